"""The fallback report engine: a .qmd through Jupyter (nbclient) and pandoc, for machines without Quarto.

Quarto is the report's engine (:mod:`policyml.report.render`). Where it is missing, this module renders
the same ``report/report.qmd`` to one self-contained HTML page: it parses the .qmd into markdown
runs and ```` ```{python} ```` chunks, builds a notebook with the parameters injected after the
cell tagged ``parameters`` (as Quarto does), executes it with nbclient, turns the outputs into
markdown and converts that with pandoc (the ``pypandoc_binary`` wheel), using
``report/filters/callouts.lua`` for callouts and figure numbers and ``report/policyml.css``.

It renders what report.qmd uses and nothing more. :data:`RENDERS` is the one list of it;
:func:`check_document` refuses anything else with the line that uses it, so the .qmd cannot start
using a Quarto feature that the fallback would silently drop (tests/test_render.py checks
report.qmd against it).

Escaping. Markdown displayed by a chunk without ``output: asis`` (``IPython.display.Markdown``) is
parsed with raw HTML switched off, so data-derived labels reach the page as text. ``output: asis``
text and HTML outputs are trusted and passed through as they are, as Quarto does.
"""

from __future__ import annotations

import base64
import datetime
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from ..core.errors import ConfigError, DataError
from ..core.resources import PROJECT_ROOT

Progress = Callable[[str], None]

#: What the fallback renders: every Quarto construct a report may use when Quarto is missing.
#: Anything else is refused by :func:`check_document`, naming the line and this list.
RENDERS: dict[str, tuple[str, ...]] = {
    # keys of the YAML front matter
    "front matter": ("title", "subtitle", "author", "date", "lang", "format", "execute", "jupyter"),
    # keys of format: html: in the front matter and in _quarto.yml
    "html options": ("toc", "toc-depth", "toc-location", "number-sections", "embed-resources",
                     "html-math-method", "css", "fig-align", "fig-width", "fig-height",
                     "fig-format"),
    # keys of execute: (defaults of every chunk)
    "execute options": ("echo", "warning"),
    # '#| key: value' lines at the top of a chunk (output: true, false or asis)
    "chunk options": ("label", "tags", "echo", "output", "fig-cap"),
    # ::: {.class ...} divs that mean something to Quarto (other divs pass through pandoc as divs)
    "callouts": ("callout-note", "callout-warning"),
    # notebook outputs shown (a figure is a PNG; Markdown, HTML and text displays; stdout/stderr)
    "outputs": ("image/png", "text/markdown", "text/html", "text/plain"),
}
#: chunk option defaults: Quarto's, except echo (a policy report shows no code unless asked)
DEFAULT_OPTIONS: dict[str, Any] = {"echo": False, "output": True, "warning": True}
#: the repository's report folder; its assets serve a .qmd that has none beside it
REPORT_DIR = PROJECT_ROOT / "report"
#: the report's own assets: beside the .qmd, else in REPORT_DIR
CSS_NAME = "policyml.css"
FILTER_NAME = "filters/callouts.lua"
#: cells that run at least this long get their time in the progress lines
SLOW_CELL_SECONDS = 2.0

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks, Quarto's output)."""
    return _ANSI.sub("", text)

_CHUNK = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<engine>[^{}\s,]*)(?P<rest>[^{}]*)\}\s*$")
_DIV = re.compile(r"^:{3,}\s*\{(?P<attributes>[^}]*)\}")
_UNSUPPORTED = (  # Quarto constructs in markdown, each with how to spot it
    ("shortcodes ({{< ... >}})", re.compile(r"\{\{<")),
    ("inline code (`{python} ...`)", re.compile(r"`\{\w+\}")),
    ("cross-references (@fig-, @tbl-, @sec-, @eq-)", re.compile(r"(?<![\w@])@(fig|tbl|sec|eq)-")),
)


def _refuse(where: str, what: str, kind: str | None) -> ConfigError:
    renders = (f"{kind}: {', '.join(RENDERS[kind])}" if kind else
               "pandoc markdown, ```{python} chunks and the callouts "
               + ", ".join(RENDERS["callouts"]))
    return ConfigError(
        f"{where}: {what} is not rendered by the fallback engine (it renders {renders})",
        "render with Quarto (see the README), or teach src/policyml/fallback.py to render it and "
        "add it to fallback.RENDERS")


# -------------------------------------------------------------------------------------- parsing


@dataclass
class Chunk:
    """One ```` ```{python} ```` chunk: its code (with the ``#|`` lines) and options."""

    code: str
    options: dict[str, Any]
    where: str  # file and line of the opening fence, e.g. "report.qmd line 40"
    number: int  # 1-based count among the document's chunks

    @property
    def label(self) -> str:
        return str(self.options.get("label") or f"chunk {self.number}")

    @property
    def tags(self) -> list[str]:
        tags = self.options.get("tags") or []
        return [str(tags)] if isinstance(tags, str) else [str(t) for t in tags]

    @property
    def body(self) -> str:
        """The code without its ``#|`` option lines (what ``echo`` shows)."""
        return "\n".join(l for l in self.code.splitlines() if not l.startswith("#|")).strip("\n")


@dataclass
class Document:
    front_matter: dict[str, Any]
    parts: list[Chunk | str] = field(default_factory=list)  # chunks and runs of markdown

    @property
    def chunks(self) -> list[Chunk]:
        return [p for p in self.parts if isinstance(p, Chunk)]


def parse_qmd(text: str, source: str = "document") -> Document:
    """Split a .qmd into front matter, markdown runs and python chunks, checking :data:`RENDERS`.

    ``source`` names the file in error messages. Every construct outside :data:`RENDERS` is a
    ConfigError naming its line.
    """
    lines = text.splitlines()
    front: dict[str, Any] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if end is None:
            raise ConfigError(f"{source}: the YAML front matter is never closed",
                              "end it with a '---' line")
        front = _yaml_mapping(lines[1:end], f"{source}: the YAML front matter",
                              "write 'key: value' lines between the first two '---' lines")
        start = end + 1
    _check_front_matter(front, f"{source} front matter")
    document = Document(front)
    markdown: list[str] = []
    labels: dict[str, str] = {}
    i = start
    while i < len(lines):
        where = f"{source} line {i + 1}"
        match = _CHUNK.match(lines[i])
        if not match:
            _check_markdown(lines[i], where)
            markdown.append(lines[i])
            i += 1
            continue
        if match["engine"] != "python" or match["rest"].strip():
            raise ConfigError(f"{where}: a {{{match['engine']}{match['rest']}}} chunk; the "
                              "fallback engine runs plain {python} chunks",
                              "write the chunk as ```{python} with '#|' option lines")
        close = re.compile(rf"^`{{{len(match['fence'])},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), None)
        if end is None:
            raise ConfigError(f"{where}: the chunk opened here is never closed",
                              f"add a closing {match['fence']} line")
        code = lines[i + 1:end]
        chunk = Chunk("\n".join(code), _chunk_options(code, where), where,
                      len(document.chunks) + 1)
        if chunk.options.get("label") is not None:
            label = str(chunk.options["label"])
            if label in labels:
                raise ConfigError(f"chunk label {label!r} is used at {labels[label]} and at "
                                  f"{where}", "give every chunk its own label")
            labels[label] = where
        document.parts += ["\n".join(markdown), chunk]
        markdown = []
        i = end + 1
    document.parts.append("\n".join(markdown))
    return document


def _yaml_mapping(lines: Sequence[str], what: str, hint: str) -> dict[str, Any]:
    """``lines`` parsed as a YAML mapping (``{}`` when empty); a ConfigError naming ``what`` else."""
    try:
        parsed = yaml.safe_load("\n".join(lines)) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{what}: not valid YAML ({' '.join(str(error).split())})", hint) from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"{what}: not 'key: value' lines", hint)
    return parsed


def _check_front_matter(front: Mapping[str, Any], where: str) -> None:
    for key in front:
        if key not in RENDERS["front matter"]:
            raise _refuse(where, f"the key {key!r}", "front matter")
    _check_format(front, where)


def _check_format(config: Mapping[str, Any], where: str) -> None:
    """The ``format: html:`` and ``execute:`` options of the front matter or of _quarto.yml."""
    _check_mapping(_html_format(config), where, "html options")
    _check_mapping(config.get("execute") or {}, where, "execute options")


def _check_mapping(options: Mapping[str, Any], where: str, kind: str) -> None:
    for key in options:
        if key not in RENDERS[kind]:
            raise _refuse(where, f"the option {key!r}", kind)


def _check_markdown(line: str, where: str) -> None:
    for what, pattern in _UNSUPPORTED:
        if pattern.search(line):
            raise _refuse(where, what, None)
    div = _DIV.match(line)
    if div:
        for callout in re.findall(r"\.(callout-[\w-]+)", div["attributes"]):
            if callout not in RENDERS["callouts"]:
                raise _refuse(where, f"the callout .{callout}", "callouts")


def _chunk_options(code: list[str], where: str) -> dict[str, Any]:
    """Options from the ``#|`` lines at the top of a chunk, checked against :data:`RENDERS`."""
    option_lines = []
    for line in code:
        if not line.startswith("#|"):
            break
        option_lines.append(line[2:].removeprefix(" "))
    options = _yaml_mapping(option_lines, f"{where}: the '#|' chunk options",
                            "write them as '#| key: value', one per line")
    _check_mapping(options, where, "chunk options")
    if options.get("output", True) not in (True, False, "asis"):
        raise _refuse(where, f"output: {options['output']!r}", "chunk options")
    return options


# ----------------------------------------------------------------------------- notebook build

_SETUP_CODE = """\
# policyml render setup (hidden): inline PNG figures at twice the pixel density, the document's
# figure size for matplotlib and plotnine
get_ipython().run_line_magic("matplotlib", "inline")
get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['retina']")
import matplotlib as _pm_matplotlib
_pm_matplotlib.rcParams.update({"figure.figsize": (%(width)s, %(height)s), "figure.dpi": 96})
import plotnine as _pm_plotnine
_pm_plotnine.options.figure_size = (%(width)s, %(height)s)
"""


def build_notebook(document: Document, params: Mapping[str, Any], kernel_name: str = "python3",
                   figure: Mapping[str, Any] | None = None):
    """The document as an nbformat notebook, with the parameters cell injected.

    Cells carry ``metadata.policyml`` (role, label, where, options, code), so the executed notebook
    alone is enough to write the markdown. ``figure`` holds ``fig-width`` and ``fig-height``
    (inches).
    """
    import nbformat.v4 as nbf

    figure = figure or {}
    sizes = {"width": float(figure.get("fig-width", 7)),
             "height": float(figure.get("fig-height", 5))}
    notebook = nbf.new_notebook()
    notebook.metadata["kernelspec"] = {"name": kernel_name, "language": "python",
                                       "display_name": kernel_name}
    setup = nbf.new_code_cell(_SETUP_CODE % sizes)
    setup.metadata["policyml"] = {"role": "setup", "label": "setup"}
    cells = [setup]
    for part in document.parts:
        if isinstance(part, str):
            cell = nbf.new_markdown_cell(part)
            cell.metadata["policyml"] = {"role": "markdown"}
            cells.append(cell)
            continue
        cell = nbf.new_code_cell(part.code)
        cell.metadata["tags"] = part.tags
        cell.metadata["policyml"] = {"role": "chunk", "label": part.label, "where": part.where,
                                     "options": part.options, "code": part.body}
        cells.append(cell)
        if "parameters" in part.tags and params:
            source = "# Injected Parameters\n" + "".join(f"{k} = {v!r}\n"
                                                         for k, v in params.items())
            injected = nbf.new_code_cell(source)
            injected.metadata["tags"] = ["injected-parameters"]
            injected.metadata["policyml"] = {"role": "parameters", "label": "injected parameters"}
            cells.append(injected)
    if params and not any("parameters" in chunk.tags for chunk in document.chunks):
        raise ConfigError("parameters were given but no chunk is tagged 'parameters'",
                          "tag the chunk that sets the defaults with '#| tags: [parameters]'")
    notebook.cells = cells
    return notebook


# ---------------------------------------------------------------------------------- execution


class ChunkError(DataError):
    """A report chunk raised an exception while rendering."""

    def __init__(self, label: str, ename: str, evalue: str, message: str, hint: str | None):
        super().__init__(message, hint)
        self.label, self.ename, self.evalue = label, ename, evalue


def execute_notebook(notebook, workdir: Path, *, timeout: int, progress: Progress) -> None:
    """Run every code cell with nbclient in ``workdir``; a failing cell raises ChunkError."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    position = {index: n + 1 for n, index in enumerate(code_cells)}
    current: dict[str, Any] = {"index": None, "started": time.perf_counter()}

    def describe(index: int | None) -> str:
        if index is None:
            return "kernel start-up"
        meta = notebook.cells[index].metadata["policyml"]
        return meta["label"] + (f" ({meta['where']})" if meta.get("where") else "")

    def on_cell_start(cell, cell_index, **_):
        if cell_index in position:  # nbclient calls this for markdown cells too
            current["index"], current["started"] = cell_index, time.perf_counter()
            progress(f"cell {position[cell_index]}/{len(code_cells)} {describe(cell_index)}")

    def on_cell_executed(cell, cell_index, **_):
        seconds = time.perf_counter() - current["started"]
        if cell_index in position and seconds >= SLOW_CELL_SECONDS:
            progress(f"  {describe(cell_index)} took {seconds:.1f} s")

    kernel_name = notebook.metadata["kernelspec"]["name"]
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(workdir)}},
                            on_cell_start=on_cell_start, on_cell_executed=on_cell_executed)
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        for text in strip_ansi(error.traceback).splitlines():
            progress(f"  | {text}")
        message = f"report chunk {describe(current['index'])} failed: {error.ename}: {error.evalue}"
        hint = ("fix the chunk or the inputs it reads (the traceback is in the render log); "
                "no HTML was written")
        if "(fix: " in error.evalue:  # a policyml error from the chunk: it carries its own fix
            message, hint = f"{message}; no HTML was written", None
        label = notebook.cells[current["index"]].metadata["policyml"]["label"]
        raise ChunkError(label, error.ename, error.evalue, message, hint) from None
    except CellTimeoutError:
        raise ChunkError(describe(current["index"]), "CellTimeoutError", f"over {timeout} s",
                         f"report chunk {describe(current['index'])} ran longer than {timeout} s",
                         "make the chunk faster (read precomputed results) or raise --timeout",
                         ) from None
    except DeadKernelError as error:
        raise ChunkError(describe(current["index"]), "DeadKernelError", str(error),
                         f"the Python kernel died while running {describe(current['index'])}",
                         "check the memory use of that chunk (the kernel is killed when it runs "
                         "out)") from None
    except NoSuchKernel:
        raise ConfigError(f"no Jupyter kernel named {kernel_name!r} is installed",
                          "install ipykernel in this environment (pip install ipykernel), or set "
                          "'jupyter: python3' in the front matter") from None
    progress(f"executed {len(code_cells)} cells in {time.perf_counter() - started:.1f} s")


# ------------------------------------------------------------------------ outputs to markdown


def _fence(text: str, minimum: int = 3) -> str:
    return "`" * max(minimum, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)


def _code_block(text: str, classes: str = "") -> str:
    fence = _fence(text)
    return f"{fence}{' {' + classes + '}' if classes else ''}\n{text.rstrip()}\n{fence}"


def _raw_block(text: str, fmt: str) -> str:
    fence = _fence(text)
    return f"{fence}{{={fmt}}}\n{text.rstrip()}\n{fence}"


def _div(parts: Sequence[str], attributes: str, colons: int = 3) -> str:
    return f"{':' * colons} {{{attributes}}}\n" + "\n\n".join(parts) + f"\n{':' * colons}"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _chunk_markdown(cell, defaults: Mapping[str, Any]) -> str:
    meta = cell.metadata["policyml"]
    options = {**defaults, **meta["options"]}
    parts = []
    if options["echo"] and meta["code"]:
        parts.append(_code_block(meta["code"], ".python .cell-code"))
    if options["output"] is not False:
        parts.extend(_outputs_markdown(cell.outputs, options, str(options.get("label") or "")))
    return _div(parts, ".cell", colons=5) if parts else ""


def _outputs_markdown(outputs, options: Mapping[str, Any], label: str) -> list[str]:
    asis = options["output"] == "asis"
    parts: list[str] = []
    figures = 0
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = strip_ansi(_text(output.get("text", "")))
            if output.get("name") == "stderr":
                if options["warning"] and text.strip():
                    parts.append(_div([_code_block(text)], ".cell-output .cell-output-stderr"))
            elif asis:
                parts.append(text)
            elif text.strip():
                parts.append(_div([_code_block(text)], ".cell-output .cell-output-stdout"))
            continue
        data = output.get("data", {})
        mime = next((m for m in RENDERS["outputs"] if m in data), None)
        if mime == "image/png":
            payload = "".join(_text(data[mime]).split())
            attributes = [f"#{label}"] if figures == 0 and label.startswith("fig-") else []
            if options.get("fig-align") in ("left", "center", "right"):
                attributes.append(f".pm-fig-{options['fig-align']}")
            width = (output.get("metadata", {}).get(mime) or {}).get("width")
            if isinstance(width, (int, float)) and width > 0:
                attributes.append(f'width="{int(width)}"')
            suffix = "{" + " ".join(attributes) + "}" if attributes else ""
            parts.append(f"![{options.get('fig-cap') or ''}](data:image/png;base64,{payload}){suffix}")
            figures += 1
        elif mime == "text/markdown":
            text = _text(data[mime])
            parts.append(text if asis else _raw_block(text, "pm_markdown"))
        elif mime == "text/html":
            parts.append(_div([_raw_block(_text(data[mime]), "html")],
                              ".cell-output .cell-output-display"))
        elif mime == "text/plain":
            parts.append(_div([_code_block(strip_ansi(_text(data[mime])))],
                              ".cell-output .cell-output-stdout"))
    return parts


def notebook_markdown(notebook, defaults: Mapping[str, Any] | None = None) -> str:
    """The executed notebook as pandoc markdown (front matter not included)."""
    defaults = {**DEFAULT_OPTIONS, **(defaults or {})}
    pieces = []
    for cell in notebook.cells:
        role = cell.metadata["policyml"]["role"]
        if role == "markdown":
            pieces.append(cell.source)
        elif role == "chunk":
            pieces.append(_chunk_markdown(cell, defaults))
    return "\n\n".join(p for p in pieces if p.strip()) + "\n"


# --------------------------------------------------------------------------------- assets, pandoc


def _asset(name: str, folder: Path) -> Path:
    for path in (folder / name, REPORT_DIR / name):
        if path.is_file():
            return path.resolve()
    raise ConfigError(f"report asset {name} is missing from {folder} and {REPORT_DIR}",
                      f"restore report/{name} from the repository")


def _html_format(config: Mapping[str, Any]) -> dict[str, Any]:
    fmt = config.get("format")
    return dict(fmt["html"]) if isinstance(fmt, Mapping) and isinstance(fmt.get("html"),
                                                                         Mapping) else {}


def project_config(qmd: Path) -> dict[str, Any]:
    """``_quarto.yml`` beside the .qmd (``{}`` when there is none), checked against RENDERS."""
    path = qmd.parent / "_quarto.yml"
    if not path.is_file():
        return {}
    config = _yaml_mapping(path.read_text(encoding="utf-8").splitlines(), str(path),
                           "write _quarto.yml as 'key: value' YAML")
    _check_format(config, path.name)
    return config


def pandoc_version() -> str:
    import pypandoc

    return ".".join(pypandoc.get_pandoc_version().split(".")[:3])


def _pandoc_html(markdown: str, qmd: Path, options: Mapping[str, Any]) -> str:
    import pypandoc

    arguments = ["--standalone", "--embed-resources", "--mathml", "--wrap=none",
                 f"--css={_asset(CSS_NAME, qmd.parent)}",
                 f"--lua-filter={_asset(FILTER_NAME, qmd.parent)}",
                 f"--resource-path={qmd.parent.resolve()}"]
    if options.get("toc", True):
        arguments += ["--toc", f"--toc-depth={int(options.get('toc-depth', 3))}"]
    if options.get("number-sections", True):
        arguments.append("--number-sections")
    try:
        return pypandoc.convert_text(markdown, "html5", format="markdown", extra_args=arguments,
                                     cworkdir=str(qmd.parent.resolve()))
    except (RuntimeError, OSError) as error:
        raise ConfigError(f"pandoc could not convert the report: {' '.join(str(error).split())}",
                          "fix the markdown or filter named in pandoc's message") from None


def render(qmd: Path, params: Mapping[str, Any], workdir: Path, *, timeout: int,
           progress: Progress) -> str:
    """``qmd`` rendered with ``params`` (code run in ``workdir``): the HTML page as a string."""
    document = parse_qmd(qmd.read_text(encoding="utf-8"), qmd.name)
    project, front = project_config(qmd), document.front_matter
    kernel = front.get("jupyter", "python3")
    if isinstance(kernel, Mapping):
        kernel = kernel.get("kernelspec", {}).get("name", "python3")
    options = {**_html_format(project), **_html_format(front)}
    notebook = build_notebook(document, params, kernel_name=str(kernel), figure=options)
    execute_notebook(notebook, workdir, timeout=timeout, progress=progress)
    defaults = {**DEFAULT_OPTIONS, **(project.get("execute") or {}), **(front.get("execute") or {})}
    if options.get("fig-align"):
        defaults["fig-align"] = options["fig-align"]
    meta = {k: v for k, v in front.items() if k not in ("format", "execute", "jupyter")}
    if str(meta.get("date", "")).strip().lower() in ("today", "now", "last-modified"):
        meta["date"] = datetime.date.today().isoformat()
    meta.setdefault("lang", "en")
    meta.setdefault("pagetitle", meta.get("title") or qmd.stem)
    front_yaml = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    started = time.perf_counter()
    page = _pandoc_html(f"---\n{front_yaml}---\n\n{notebook_markdown(notebook, defaults)}", qmd,
                        options)
    progress(f"pandoc {pandoc_version()} wrote {len(page) / 1e6:.1f} MB in "
             f"{time.perf_counter() - started:.1f} s")
    return page
