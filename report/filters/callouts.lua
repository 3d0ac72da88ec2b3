--[[
callouts.lua: the pandoc Lua filter of policyml's fallback report engine (Jupyter + pandoc).

Quarto handles all of this itself; this filter gives plain pandoc the same features for the
constructs report/report.qmd uses. It runs three passes, in order:

1. Untrusted outputs. The renderer puts data-derived markdown (IPython Markdown outputs, inline
   `{python}` values) into raw elements of the made-up formats `pm_markdown` and `pm_text`.
   `pm_markdown` is parsed here WITHOUT raw HTML, so a label such as "<script>" shows as text;
   `pm_text` becomes a plain string. The HTML writer escapes both.
2. Callouts. `::: {.callout-note title="Policy Insight"}` (also callout-warning, -tip,
   -important, -caution) becomes a box: div.pm-callout.pm-callout-KIND holding
   div.pm-callout-title and div.pm-callout-body. Without a title attribute a leading heading in the
   div is the title, else the kind ("Note"). Classes carry a pm- prefix so they never collide with
   Quarto's own callout CSS when the same stylesheet is used there.
3. Cross-references, Quarto style: figures `#fig-x`, tables `#tbl-x` (a div holding a
   div.pm-table-caption) and headings `#sec-x` are numbered in document order; `@fig-x`, `@tbl-x`
   and `@sec-x` become links reading "Figure 2", "Table 1", "Section 3.1". Figure captions gain a
   "Figure N: " prefix, and a figure image's `fig-alt` attribute becomes its alt text.
--]]

-- 1. Untrusted outputs -------------------------------------------------------------------------

local UNTRUSTED_READER = "markdown-raw_html-raw_attribute"

local untrusted = {
  RawBlock = function(raw)
    if raw.format == "pm_markdown" then
      local blocks = pandoc.read(raw.text, UNTRUSTED_READER).blocks
      return pandoc.Div(blocks, pandoc.Attr("", {"cell-output-markdown"}))
    elseif raw.format == "pm_text" then
      return pandoc.Plain({pandoc.Str(raw.text)})
    end
  end,
  RawInline = function(raw)
    if raw.format == "pm_markdown" then
      local blocks = pandoc.read(raw.text, UNTRUSTED_READER).blocks
      return pandoc.utils.blocks_to_inlines(blocks)
    elseif raw.format == "pm_text" then
      return pandoc.Str(raw.text)
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

-- 3. Cross-references ---------------------------------------------------------------------------

local references = {}  -- id -> link text, e.g. "fig-income" -> "Figure 2"

local function first_image(figure)
  local found = nil
  figure:walk({
    Image = function(image)
      found = found or image
    end,
  })
  return found
end

local function figure_id(figure)
  if figure.identifier ~= "" then
    return figure.identifier
  end
  local image = first_image(figure)
  return image and image.identifier or ""
end

local function number_targets(doc)
  local figures, tables = 0, 0
  local sections = {}
  doc.blocks:walk({
    traverse = "topdown",
    Header = function(header)
      if header.classes:includes("unnumbered") then
        return nil
      end
      local level = header.level
      sections[level] = (sections[level] or 0) + 1
      for deeper = level + 1, 6 do
        sections[deeper] = nil
      end
      if header.identifier:match("^sec%-") then
        local parts = {}
        for l = 1, level do
          table.insert(parts, tostring(sections[l] or 0))
        end
        references[header.identifier] = "Section " .. table.concat(parts, ".")
      end
    end,
    Figure = function(figure)
      local id = figure_id(figure)
      if id:match("^fig%-") then
        figures = figures + 1
        references[id] = "Figure " .. figures
      end
    end,
    Div = function(div)
      if div.identifier:match("^tbl%-") then
        tables = tables + 1
        references[div.identifier] = "Table " .. tables
      end
    end,
  })
end

local function prefix_caption(blocks, text)
  -- put "Figure 2: " in front of the first block's inlines
  if #blocks == 0 then
    return pandoc.Blocks({pandoc.Plain({pandoc.Strong({pandoc.Str(text)})})})
  end
  local first = blocks[1]
  if first.content then
    first.content:insert(1, pandoc.Space())
    first.content:insert(1, pandoc.Strong({pandoc.Str(text .. ":")}))
  end
  return blocks
end

local crossrefs = {
  Figure = function(figure)
    local image = first_image(figure)
    if image and image.attributes["fig-alt"] then
      local alt = image.attributes["fig-alt"]
      figure = figure:walk({
        Image = function(img)
          img.caption = pandoc.Inlines({pandoc.Str(alt)})
          img.attributes["fig-alt"] = nil
          return img
        end,
      })
    end
    local id = figure_id(figure)
    if references[id] then
      figure.identifier = id
      figure.caption.long = prefix_caption(figure.caption.long, references[id])
    end
    return figure
  end,
  Div = function(div)
    if references[div.identifier] and div.identifier:match("^tbl%-") then
      return div:walk({
        Div = function(inner)
          if inner.classes:includes("pm-table-caption") then
            inner.content = prefix_caption(inner.content, references[div.identifier])
            return inner
          end
        end,
      })
    end
  end,
  Cite = function(cite)
    local links = pandoc.Inlines({})
    for i, citation in ipairs(cite.citations) do
      local text = references[citation.id]
      if not text then
        return nil  -- not a cross-reference: leave it alone
      end
      if i > 1 then
        links:insert(pandoc.Str(","))
        links:insert(pandoc.Space())
      end
      links:insert(pandoc.Link({pandoc.Str(text)}, "#" .. citation.id))
    end
    return links
  end,
}

return {
  untrusted,
  callouts,
  {Pandoc = function(doc) number_targets(doc) return doc end},
  crossrefs,
}
