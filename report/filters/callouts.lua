--[[
callouts.lua: the pandoc Lua filter of policyml's fallback report engine (Jupyter + pandoc).

Quarto handles all of this itself; this filter gives plain pandoc the same features for the
constructs report/report.qmd uses. It runs three passes, in order:

1. Untrusted outputs. The renderer puts data-derived markdown (IPython Markdown outputs of
   chunks without `output: asis`) into raw blocks of the made-up format `pm_markdown`, parsed
   here WITHOUT raw HTML, so a label such as "<script>" shows as text.
2. Callouts. `::: {.callout-note title="Policy Insight"}` (also callout-warning, -tip,
   -important, -caution) becomes a box: div.pm-callout.pm-callout-KIND holding
   div.pm-callout-title and div.pm-callout-body. Without a title attribute a leading heading in the
   div is the title, else the kind ("Note"). Classes carry a pm- prefix so they never collide with
   Quarto's own callout CSS when the same stylesheet is used there.
3. Figure numbers: figures of chunks labelled `fig-*` get a "Figure N: " caption prefix.
--]]

-- 1. Untrusted outputs -------------------------------------------------------------------------

local UNTRUSTED_READER = "markdown-raw_html-raw_attribute"

local untrusted = {
  RawBlock = function(raw)
    if raw.format == "pm_markdown" then
      local blocks = pandoc.read(raw.text, UNTRUSTED_READER).blocks
      return pandoc.Div(blocks, pandoc.Attr("", {"cell-output-markdown"}))
    end
  end,
}

-- 2. Callouts -----------------------------------------------------------------------------------

local CALLOUT_TITLES = {
  note = "Note", warning = "Warning", tip = "Tip", important = "Important", caution = "Caution",
}

local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind and CALLOUT_TITLES[kind] then
      return kind
    end
  end
  return nil
end

local callouts = {
  Div = function(div)
    local kind = callout_kind(div)
    if not kind then
      return nil
    end
    local content = div.content
    local title
    if div.attributes["title"] then
      -- the title is markdown written by the report author; raw HTML is not honoured in it
      title = pandoc.utils.blocks_to_inlines(
        pandoc.read(div.attributes["title"], UNTRUSTED_READER).blocks)
    elseif #content > 0 and content[1].t == "Header" then
      title = content[1].content
      content = content:clone()
      content:remove(1)
    else
      title = pandoc.Inlines({pandoc.Str(CALLOUT_TITLES[kind])})
    end
    local header = pandoc.Div({pandoc.Plain(title)}, pandoc.Attr("", {"pm-callout-title"}))
    local body = pandoc.Div(content, pandoc.Attr("", {"pm-callout-body"}))
    local classes = {"pm-callout", "pm-callout-" .. kind}
    for _, class in ipairs(div.classes) do
      if not class:match("^callout") then
        table.insert(classes, class)
      end
    end
    return pandoc.Div({header, body}, pandoc.Attr(div.identifier, classes, {role = "note"}))
  end,
}

-- 3. Figure numbers ----------------------------------------------------------------------------
-- Quarto numbers the figures of chunks labelled fig-*: "Figure 2: caption". So does this pass.

local function first_image(figure)
  local found = nil
  figure:walk({Image = function(image) found = found or image end})
  return found
end

local function figure_id(figure)
  if figure.identifier ~= "" then
    return figure.identifier
  end
  local image = first_image(figure)
  return image and image.identifier or ""
end

local figures = 0
local numbers = {
  Figure = function(figure)
    local id = figure_id(figure)
    if not id:match("^fig%-") then
      return nil
    end
    figures = figures + 1
    figure.identifier = id
    local blocks = figure.caption.long
    if #blocks == 0 then
      blocks:insert(pandoc.Plain({}))
    end
    if blocks[1].content then
      blocks[1].content:insert(1, pandoc.Space())
      blocks[1].content:insert(1, pandoc.Strong({pandoc.Str("Figure " .. figures .. ":")}))
    end
    return figure
  end,
}

return {untrusted, callouts, numbers}
