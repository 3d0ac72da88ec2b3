"""Render the policy report (.qmd) to one self-contained HTML file, with or without Quarto.

Two engines read the same ``report/report.qmd``:

``quarto``
    ``quarto render`` when a ``quarto`` binary is on PATH; its options come from
    ``report/_quarto.yml`` (embedded resources, table of contents, numbered sections, policyml.css).
``jupyter``
    The fallback when Quarto is missing. It parses the .qmd (YAML front matter, markdown,
    ```` ```{python} ```` chunks with ``#|`` options), builds a notebook, injects the parameters
    cell after the cell tagged ``parameters`` (as Quarto does), executes it with nbclient, turns the
    outputs into markdown and converts that with pandoc (the ``pypandoc_binary`` wheel) using
    ``report/filters/callouts.lua`` and ``report/policyml.css``.

``engine="auto"`` picks Quarto when it is on PATH. Either way the page footer names the engine, the
HTML is written atomically (no partial file on failure), and a failing chunk stops the render with
one error naming the chunk.

Chunk options understood by the fallback (Quarto's names and defaults, except ``echo``, which
defaults to false for a policy report): ``label``, ``echo``, ``eval``, ``output`` (true, false,
``asis``), ``include``, ``warning``, ``error``, ``fig-cap``, ``fig-alt``, ``fig-align``,
``tbl-cap``, ``tags``. Defaults come from ``execute:`` in ``_quarto.yml`` beside the .qmd, then the
front matter. Inline expressions `` `{python} expr` `` are evaluated where they stand;
``{{< include FILE >}}`` lines are expanded first and ``{{< pagebreak >}}`` is dropped.

Escaping. Markdown produced by chunks (``IPython.display.Markdown`` outputs, inline values) is
parsed with raw HTML switched off, so data-derived labels reach the page as text. Two kinds of
output are trusted and passed through as they are, as Quarto does: ``output: asis`` text and HTML
outputs (``IPython.display.HTML``, ``DataFrame`` HTML). Build those with :func:`escape` around
every data-derived value (an escaped ``&lt;`` reads the same through both engines). Usage::

    python -m policyml.render report/report.qmd --output results/NM/2018/report.html \\
        -P state=NM -P year=2018 -P results=results/NM/2018 [--engine auto|quarto|jupyter]
    python -m policyml.render --index results/NM/2018 results/VT/2018 --output results/index.html
"""

from __future__ import annotations

import argparse
import ast
import base64
import datetime
import html
import json
import keyword
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import quote

import yaml

from .errors import ConfigError, DataError, PolicymlError, one_line
from .outputs import atomic_path

ENGINES = ("auto", "quarto", "jupyter")
#: seconds one chunk may run before the render is abandoned
DEFAULT_TIMEOUT = 3600
#: cells that run at least this long get their time in the progress lines
SLOW_CELL_SECONDS = 2.0
#: the report's own assets; a file of the same name beside the .qmd takes precedence
REPORT_DIR = Path(__file__).resolve().parents[2] / "report"
CSS_NAME = "policyml.css"
FILTER_NAME = "filters/callouts.lua"

#: chunk option defaults: Quarto's, except echo (a policy report shows no code unless asked)
DEFAULT_OPTIONS: dict[str, Any] = {
    "echo": False,
    "eval": True,
    "output": True,
    "include": True,
    "warning": True,
    "error": False,
}
#: options taken from ``execute:`` in _quarto.yml and the front matter
EXECUTE_KEYS = tuple(DEFAULT_OPTIONS)
#: which output representation wins when a display carries several (Quarto's order for HTML)
MIME_ORDER = (
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/html",
    "text/plain",
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CHUNK_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<engine>[A-Za-z][\w-]*)(?P<rest>[^{}]*)\}\s*$")
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})")
_SHORTCODE = re.compile(r"(?<!\{)\{\{<\s*(?P<name>[\w-]+)\s*(?P<args>.*?)\s*>\}\}(?!\})")
#: Quarto shortcodes with no meaning in a single HTML page: dropped
_IGNORED_SHORTCODES = ("pagebreak",)
_INLINE = re.compile(r"`\{python\}\s+(?P<expr>[^`]+?)\s*`")
_NUMBER_INT = re.compile(r"^[+-]?\d+$")
_NUMBER_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")

Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    print(f"render: {message}", file=sys.stderr, flush=True)


def escape(value: Any) -> str:
    """HTML-escape a data-derived value (``&``, ``<``, ``>``, quotes) for raw HTML outputs."""
    return html.escape(str(value), quote=True)


class ChunkError(DataError):
    """A report chunk (or inline expression) raised an exception while rendering."""

    def __init__(self, label: str, ename: str, evalue: str, message: str, hint: str):
        super().__init__(message, hint)
        self.label = label
        self.ename = ename
        self.evalue = evalue


# -------------------------------------------------------------------------------------- parsing


@dataclass
class Chunk:
    """One ```` ```{python} ```` chunk: its code (with the ``#|`` lines) and options."""

    code: str
    options: dict[str, Any]
    line: int  # 1-based line of the opening fence in the (include-expanded) text
    number: int  # 1-based count among the document's chunks
    where: str = ""  # file and line for messages, e.g. "report.qmd line 40"

    @property
    def label(self) -> str:
        label = self.options.get("label")
        return str(label) if label else f"chunk {self.number}"

    @property
    def tags(self) -> list[str]:
        tags = self.options.get("tags") or []
        return [str(tags)] if isinstance(tags, str) else [str(t) for t in tags]

    @property
    def body(self) -> str:
        """The code without its ``#|`` option lines (what ``echo`` shows)."""
        return "\n".join(l for l in self.code.splitlines() if not l.startswith("#|")).strip("\n")


@dataclass
class Markdown:
    """A run of markdown; ``verbatim`` for fenced code blocks, which are never evaluated."""

    text: str
    line: int
    verbatim: bool = False


@dataclass
class Document:
    front_matter: dict[str, Any]
    parts: list[Chunk | Markdown] = field(default_factory=list)
    source: str = "document"
    origins: Sequence[tuple[str, int]] | None = None

    def where(self, line: int) -> str:
        """File and line of 1-based ``line`` of the parsed text, for messages."""
        if self.origins is not None and 0 < line <= len(self.origins):
            return f"{self.origins[line - 1][0]} line {self.origins[line - 1][1]}"
        return f"{self.source} line {line}"

    @property
    def chunks(self) -> list[Chunk]:
        return [p for p in self.parts if isinstance(p, Chunk)]


def parse_qmd(text: str, source: str = "document",
              origins: Sequence[tuple[str, int]] | None = None) -> Document:
    """Split a .qmd into front matter, markdown runs and python chunks.

    ``source`` names the file in error messages; ``origins`` (from :func:`expand_includes`) gives
    the file and line of every line of ``text``. Chunks of other engines ({r}, {ojs}, ...) are
    refused: the fallback engine runs Python only.
    """
    lines = text.splitlines()

    def at(index: int) -> str:
        return Document({}, source=source, origins=origins).where(index + 1)
    front: dict[str, Any] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() in ("---", "..."):
                try:
                    front = yaml.safe_load("\n".join(lines[1:end])) or {}
                except yaml.YAMLError as error:
                    raise ConfigError(
                        f"{source}: the YAML front matter does not parse: {error}",
                        "fix the YAML between the first two '---' lines",
                    ) from None
                if not isinstance(front, dict):
                    raise ConfigError(f"{source}: the front matter is not a YAML mapping",
                                      "write 'key: value' lines between the '---' lines")
                start = end + 1
                break
    document = Document(front, source=source, origins=origins)
    buffer: list[str] = []
    buffer_line = start + 1

    def flush(next_line: int) -> None:
        nonlocal buffer, buffer_line
        if buffer:
            document.parts.append(Markdown("\n".join(buffer), buffer_line))
        buffer, buffer_line = [], next_line

    i = start
    while i < len(lines):
        line = lines[i]
        chunk_open = _CHUNK_OPEN.match(line)
        fence_open = _FENCE_OPEN.match(line)
        if chunk_open or fence_open:
            fence = (chunk_open or fence_open)["fence"]
            close = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            end = i + 1
            while end < len(lines) and not close.match(lines[end]):
                end += 1
            if end == len(lines):
                raise ConfigError(f"{at(i)}: the code block opened here is never "
                                  f"closed", f"add a closing {fence} line")
            content = lines[i + 1:end]
            if chunk_open:
                if chunk_open["engine"] != "python":
                    raise ConfigError(
                        f"{at(i)}: a {{{chunk_open['engine']}}} chunk; the report "
                        "engine runs python chunks only",
                        "write the chunk in Python, or show it as code with ```python",
                    )
                flush(end + 2)
                options = _chunk_options(content, chunk_open["rest"], at(i))
                document.parts.append(
                    Chunk("\n".join(content), options, i + 1, len(document.chunks) + 1, at(i)))
            else:
                flush(i + 1)
                document.parts.append(Markdown("\n".join(lines[i:end + 1]), i + 1, verbatim=True))
                buffer_line = end + 2
            i = end + 1
            continue
        if not buffer:
            buffer_line = i + 1
        buffer.append(_without_shortcodes(line, at(i)))
        i += 1
    flush(len(lines) + 1)
    _check_labels(document)
    return document


def _without_shortcodes(line: str, where: str) -> str:
    def replace(match: re.Match) -> str:
        if match["name"] in _IGNORED_SHORTCODES:
            return ""
        if match["name"] == "include":
            hint = "render the file through render_report, which expands includes first"
        else:
            hint = "write the content out in markdown, or render with Quarto"
        raise ConfigError(f"{where}: the Quarto shortcode {{{{< {match['name']} >}}}} is not "
                          "supported by the fallback engine", hint)

    return _SHORTCODE.sub(replace, line)


def expand_includes(qmd: Path) -> tuple[str, list[tuple[str, int]]]:
    """The text of ``qmd`` with each ``{{< include FILE >}}`` line replaced by FILE's text.

    FILE is relative to the including file, and may include further files (as in Quarto). Returns
    the text and, for each of its lines, the file (relative to ``qmd``'s folder) and 1-based line it
    came from, for error messages.
    """
    root = qmd.parent.resolve()
    include = re.compile(r"^\s*\{\{<\s*include\s+(?P<file>.+?)\s*>\}\}\s*$")
    lines: list[str] = []
    origins: list[tuple[str, int]] = []

    def name(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            return str(path)

    def expand(path: Path, stack: tuple[Path, ...]) -> None:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = include.match(line)
            if not match:
                lines.append(line)
                origins.append((name(path), number))
                continue
            target = (path.parent / match["file"].strip("'\"")).resolve()
            if not target.is_file():
                raise ConfigError(f"{name(path)} line {number}: included file {match['file']} "
                                  "does not exist", "fix the path (relative to the including file)")
            if target in stack:
                raise ConfigError(f"{name(path)} line {number}: {match['file']} includes itself",
                                  "remove the circular include")
            expand(target, (*stack, target))

    expand(qmd, (qmd.resolve(),))
    return "\n".join(lines) + "\n", origins


def _chunk_options(content: list[str], header: str, where: str) -> dict[str, Any]:
    """Options from the ``#|`` lines at the top of a chunk (and a label in the fence header)."""
    options: dict[str, Any] = {}
    header = header.strip().lstrip(",").strip()
    if header:  # {python my-label} or {python label="x", echo=false}
        for token in [t.strip() for t in header.split(",") if t.strip()]:
            if "=" in token:
                key, value = token.split("=", 1)
                options[key.strip()] = _scalar(value.strip().strip("'\""))
            else:
                options["label"] = token
    yaml_lines = []
    for line in content:
        if not line.startswith("#|"):
            break
        yaml_lines.append(line[2:].removeprefix(" "))
    if yaml_lines:
        try:
            parsed = yaml.safe_load("\n".join(yaml_lines)) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{where}: the '#|' chunk options do not parse as YAML: {error}",
                              "write them as '#| key: value', one per line") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{where}: the '#|' chunk options are not 'key: value' lines",
                              "write them as '#| key: value', one per line")
        options.update(parsed)
    return options


def _check_labels(document: Document) -> None:
    seen: dict[str, str] = {}
    for chunk in document.chunks:
        label = chunk.options.get("label")
        if label is None:
            continue
        if str(label) in seen:
            raise ConfigError(
                f"chunk label {label!r} is used at {seen[str(label)]} and at {chunk.where}",
                "give every chunk its own label")
        seen[str(label)] = chunk.where


def _scalar(text: str) -> Any:
    """A command-line value as Python: int, float, true/false, else the string itself."""
    if _NUMBER_INT.match(text):
        return int(text)
    if _NUMBER_FLOAT.match(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


# ----------------------------------------------------------------------------- notebook build

_SETUP_CODE = """\
# policyml render setup (hidden): inline PNG figures at twice the pixel density, the document's
# figure size for matplotlib and plotnine
try:
    get_ipython().run_line_magic("matplotlib", "inline")
    get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['retina']")
    import matplotlib as _pm_matplotlib
    _pm_matplotlib.rcParams.update({"figure.figsize": (%(width)s, %(height)s), "figure.dpi": 96})
except ImportError:
    pass
try:
    import plotnine as _pm_plotnine
    _pm_plotnine.options.figure_size = (%(width)s, %(height)s)
    _pm_plotnine.options.dpi = %(dpi)s
except ImportError:
    pass


def _pm_inline(value):
    from IPython.display import display
    markdown = getattr(value, "_repr_markdown_", None)
    if callable(markdown):
        result = {"markdown": markdown()}
    else:
        result = {"text": str(value)}
    display({"application/vnd.policyml.inline+json": result}, raw=True)
"""
_INLINE_MIME = "application/vnd.policyml.inline+json"


def _cell_meta(cell) -> dict[str, Any]:
    return cell.metadata.setdefault("policyml", {})


def build_notebook(document: Document, params: Mapping[str, Any], kernel_name: str = "python3",
                   figure: Mapping[str, Any] | None = None):
    """The document as an nbformat notebook, with the parameters cell injected.

    Cells carry ``metadata.policyml`` (role, label, where, options) so that the executed notebook
    alone is enough to write the markdown. Chunks with ``eval: false`` become raw cells.
    ``figure`` holds Quarto's ``fig-width``, ``fig-height`` (inches) and ``fig-dpi``.
    """
    import nbformat.v4 as nbf

    _check_params(params)
    figure = figure or {}
    sizes = {"width": float(figure.get("fig-width", 7)),
             "height": float(figure.get("fig-height", 5)),
             "dpi": int(figure.get("fig-dpi", 96))}
    notebook = nbf.new_notebook()
    notebook.metadata["kernelspec"] = {"name": kernel_name, "language": "python",
                                       "display_name": kernel_name}
    setup = nbf.new_code_cell(_SETUP_CODE % sizes)
    _cell_meta(setup).update(role="setup", label="setup")
    cells = [setup]
    injected_after: int | None = None
    defined: set[str] = set()
    for part in document.parts:
        if isinstance(part, Markdown):
            if not part.verbatim:
                for match in _INLINE.finditer(part.text):
                    expr = match["expr"]
                    line = part.line + part.text[:match.start()].count("\n")
                    cell = nbf.new_code_cell(f"_pm_inline(({expr}))")
                    _cell_meta(cell).update(role="inline", label=f"inline `{expr}`",
                                            where=document.where(line))
                    cells.append(cell)
            cell = nbf.new_markdown_cell(part.text)
            _cell_meta(cell).update(role="markdown", line=part.line, verbatim=part.verbatim)
            cells.append(cell)
            continue
        options = part.options
        evaluate = bool(options.get("eval", True))
        cell = nbf.new_code_cell(part.code) if evaluate else nbf.new_raw_cell(part.code)
        cell.metadata["tags"] = part.tags + (["raises-exception"] if options.get("error") else [])
        _cell_meta(cell).update(role="chunk", label=part.label, where=part.where,
                                options=options, code=part.body)
        cells.append(cell)
        if "parameters" in part.tags and injected_after is None:
            injected_after = len(cells)
            defined = _assigned_names(part.code)
    if params:
        source = "# Injected Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
        cell = nbf.new_code_cell(source)
        cell.metadata["tags"] = ["injected-parameters"]
        _cell_meta(cell).update(role="parameters", label="injected parameters")
        cells.insert(injected_after if injected_after is not None else 1, cell)
        notebook.metadata["policyml_unknown_params"] = (
            sorted(set(params) - defined) if injected_after is not None else sorted(params))
    notebook.cells = cells
    return notebook


def _check_params(params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            raise ConfigError(f"report parameter name {name!r} is not a Python identifier",
                              "use names such as state, year, results")
        try:
            if ast.literal_eval(repr(value)) != value:
                raise ValueError
        except (ValueError, SyntaxError):
            raise ConfigError(
                f"report parameter {name}={value!r} cannot be written as a Python literal",
                "pass strings, numbers, booleans or lists of them") from None


def _assigned_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {target.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)}


# ---------------------------------------------------------------------------------- execution


def execute_notebook(notebook, workdir: Path, *, timeout: int = DEFAULT_TIMEOUT,
                     progress: Progress = _stderr_progress) -> None:
    """Run every code cell with nbclient in ``workdir``; a failing cell raises ChunkError."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    position = {index: n + 1 for n, index in enumerate(code_cells)}
    current: dict[str, Any] = {"index": None, "started": time.perf_counter()}

    def describe(cell) -> str:
        meta = _cell_meta(cell)
        where = f" ({meta['where']})" if meta.get("where") else ""
        return f"{meta.get('label', 'cell')!s}{where}"

    def on_cell_start(cell, cell_index, **_):
        if cell_index not in position:  # nbclient calls this for markdown and raw cells too
            return
        current["index"], current["started"] = cell_index, time.perf_counter()
        progress(f"cell {position[cell_index]}/{len(code_cells)} {describe(cell)}")

    def on_cell_executed(cell, cell_index, **_):
        if cell_index not in position:
            return
        seconds = time.perf_counter() - current["started"]
        if seconds >= SLOW_CELL_SECONDS:
            progress(f"  {describe(cell)} took {seconds:.1f} s")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for text in _strip_ansi(output.get("text", "")).splitlines()[:5]:
                    progress(f"  stderr: {text}")

    kernel_name = notebook.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_executed,
        record_timing=False,
    )
    unknown = notebook.metadata.get("policyml_unknown_params")
    if unknown:
        progress(f"note: parameters {', '.join(unknown)} are not assigned in the cell tagged "
                 "'parameters'; they are injected anyway")
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        cell = notebook.cells[current["index"]]
        for text in _strip_ansi(error.traceback).splitlines():
            progress(f"  | {text}")
        message = f"report chunk {describe(cell)} failed: {error.ename}: {error.evalue}"
        hint = ("fix the chunk or the inputs it reads (the traceback is in the render log); "
                "no HTML was written")
        if "(fix: " in error.evalue:  # a policyml error from the chunk: it carries its own fix
            message, hint = f"{message}; no HTML was written", None
        raise ChunkError(_cell_meta(cell).get("label", "cell"), error.ename, error.evalue,
                         message, hint) from None
    except CellTimeoutError:
        cell = notebook.cells[current["index"]]
        raise ChunkError(
            _cell_meta(cell).get("label", "cell"), "CellTimeoutError", f"over {timeout} s",
            f"report chunk {describe(cell)} ran longer than {timeout} s",
            "make the chunk faster (read precomputed results) or raise --timeout",
        ) from None
    except DeadKernelError as error:
        index = current["index"]
        where = describe(notebook.cells[index]) if index is not None else "kernel start-up"
        raise ChunkError(
            str(where), "DeadKernelError", str(error),
            f"the Python kernel died while running {where}",
            "check memory use of that chunk (the kernel is killed when it runs out)",
        ) from None
    except NoSuchKernel:
        raise ConfigError(
            f"no Jupyter kernel named {kernel_name!r} is installed",
            "install ipykernel in this environment (pip install ipykernel), or set "
            "'jupyter: python3' in the front matter",
        ) from None
    progress(f"executed {len(code_cells)} cells in {time.perf_counter() - started:.1f} s")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


# ------------------------------------------------------------------------ outputs to markdown


def _backtick_fence(text: str, minimum: int = 3, char: str = "`") -> str:
    longest = max((len(m) for m in re.findall(rf"{re.escape(char)}+", text)), default=0)
    return char * max(minimum, longest + 1)


def _code_block(text: str, classes: str = "") -> str:
    fence = _backtick_fence(text)
    attributes = f" {{{classes}}}" if classes else ""
    return f"{fence}{attributes}\n{text.rstrip()}\n{fence}"


def _raw_block(text: str, fmt: str) -> str:
    fence = _backtick_fence(text)
    return f"{fence}{{={fmt}}}\n{text.rstrip()}\n{fence}"


def _raw_inline(text: str, fmt: str) -> str:
    text = " ".join(text.split())  # inline: one line
    fence = _backtick_fence(text, minimum=1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}{{={fmt}}}"


def _div(content: Iterable[str], attributes: str, colons: int = 3) -> str:
    body = "\n\n".join(c for c in content if c)
    fence = ":" * colons
    return f"{fence} {{{attributes}}}\n{body}\n{fence}"


def _data_text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _image_markdown(data: str, mime: str, metadata: Mapping[str, Any], caption: str,
                    identifier: str, alt: str | None, align: str | None = None) -> str:
    payload = "".join(_data_text(data).split())
    if mime == "image/svg+xml":
        payload = base64.b64encode(_data_text(data).encode("utf-8")).decode("ascii")
    attributes = []
    if identifier:
        attributes.append(f"#{identifier}")
    if align in ("left", "center", "right"):
        attributes.append(f".pm-fig-{align}")
    width = (metadata or {}).get("width")
    if isinstance(width, (int, float)) and width > 0:
        attributes.append(f'width="{int(width)}"')
    if alt:
        attributes.append(f'fig-alt="{escape(alt)}"')
    suffix = "{" + " ".join(attributes) + "}" if attributes else ""
    return f"![{caption}](data:{mime};base64,{payload}){suffix}"


def _merged_streams(outputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for output in outputs:
        output = dict(output)
        if (output.get("output_type") == "stream" and merged
                and merged[-1].get("output_type") == "stream"
                and merged[-1].get("name") == output.get("name")):
            merged[-1]["text"] = _data_text(merged[-1]["text"]) + _data_text(output["text"])
        else:
            merged.append(output)
    return merged


def _chunk_markdown(cell, defaults: Mapping[str, Any]) -> str:
    meta = _cell_meta(cell)
    options = {**defaults, **meta.get("options", {})}
    if not options.get("include", True):
        return ""
    label = str(options.get("label") or "")
    parts = []
    echo = options.get("echo")
    if echo and meta.get("code"):
        parts.append(_code_block(meta["code"], ".python .cell-code"))
    show = options.get("output", True)
    if show is not False and cell.cell_type == "code":
        parts.extend(_outputs_markdown(cell.outputs, options, label))
    if not parts:
        return ""
    if options.get("tbl-cap") is not None:
        identifier = f"#{label} " if label.startswith("tbl-") else ""
        caption = _div([str(options["tbl-cap"])], ".pm-table-caption")
        parts = [_div([caption, *parts], f"{identifier}.pm-table", colons=4)]
    return _div(parts, ".cell", colons=5)


def _outputs_markdown(outputs, options: Mapping[str, Any], label: str) -> list[str]:
    asis = options.get("output") == "asis"
    captions = options.get("fig-cap")
    captions = captions if isinstance(captions, list) else [captions] if captions else []
    alts = options.get("fig-alt")
    alts = alts if isinstance(alts, list) else [alts] if alts else []
    figures = 0
    parts: list[str] = []
    for output in _merged_streams(outputs):
        kind = output.get("output_type")
        if kind == "stream":
            text = _strip_ansi(_data_text(output.get("text", "")))
            if output.get("name") == "stderr":
                if options.get("warning", True) and text.strip():
                    parts.append(_div([_code_block(text)], ".cell-output .cell-output-stderr"))
            elif asis:
                parts.append(text)
            elif text.strip():
                parts.append(_div([_code_block(text)], ".cell-output .cell-output-stdout"))
        elif kind == "error":
            text = _strip_ansi("\n".join(output.get("traceback", [])))
            parts.append(_div([_code_block(text)], ".cell-output .cell-output-error"))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            mime = next((m for m in MIME_ORDER if m in data), None)
            if mime is None:
                continue
            if mime.startswith("image/"):
                caption = (captions[figures] if figures < len(captions)
                           else captions[0] if captions else "")
                identifier = label if figures == 0 and label.startswith("fig-") else ""
                alt = alts[figures] if figures < len(alts) else None
                parts.append(_image_markdown(data[mime], mime, output.get("metadata", {}).get(mime),
                                             str(caption or ""), identifier, alt,
                                             options.get("fig-align")))
                figures += 1
            elif mime == "text/markdown":
                text = _data_text(data[mime])
                parts.append(text if asis else _raw_block(text, "pm_markdown"))
            elif mime == "text/html":
                parts.append(_div([_raw_block(_data_text(data[mime]), "html")],
                                  ".cell-output .cell-output-display"))
            else:
                text = _strip_ansi(_data_text(data[mime]))
                parts.append(_div([_code_block(text)], ".cell-output .cell-output-stdout"))
    return parts


def notebook_markdown(notebook, defaults: Mapping[str, Any] | None = None) -> str:
    """The executed notebook as pandoc markdown (front matter not included)."""
    defaults = {**DEFAULT_OPTIONS, **(defaults or {})}
    pieces: list[str] = []
    inline_values: list[str] = []
    for cell in notebook.cells:
        meta = _cell_meta(cell)
        role = meta.get("role")
        if role == "inline":
            inline_values.append(_inline_value(cell))
        elif role == "markdown":
            text = cell.source
            if inline_values and not meta.get("verbatim"):
                values = iter(inline_values)
                text = _INLINE.sub(lambda _m: next(values), text)
            inline_values = []
            pieces.append(text)
        elif role == "chunk":
            pieces.append(_chunk_markdown(cell, defaults))
    return "\n\n".join(p for p in pieces if p.strip()) + "\n"


def _inline_value(cell) -> str:
    for output in cell.get("outputs", []):
        value = output.get("data", {}).get(_INLINE_MIME)
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dict):
            if "markdown" in value:
                return _raw_inline(str(value["markdown"]), "pm_markdown")
            return _raw_inline(str(value.get("text", "")), "pm_text")
    return ""


# --------------------------------------------------------------------------------- assets, pandoc


def _asset(name: str, folder: Path = REPORT_DIR) -> Path:
    """A report asset (stylesheet, filter): from ``folder`` (the .qmd's) if there, else report/."""
    for candidate in (folder / name, REPORT_DIR / name):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"report asset {name} not found in {folder} nor in {REPORT_DIR}",
                      f"restore report/{name} from the repository")


def _project_config(qmd: Path) -> dict[str, Any]:
    path = qmd.parent / "_quarto.yml"
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} does not parse as YAML: {error}", "fix the YAML") from None
    return config if isinstance(config, dict) else {}


def _html_format(config: Mapping[str, Any]) -> dict[str, Any]:
    fmt = config.get("format")
    if isinstance(fmt, Mapping) and isinstance(fmt.get("html"), Mapping):
        return dict(fmt["html"])
    return {}


def _execute_defaults(front: Mapping[str, Any], project: Mapping[str, Any]) -> dict[str, Any]:
    defaults = dict(DEFAULT_OPTIONS)
    for config in (project, front):
        execute = config.get("execute")
        if isinstance(execute, Mapping):
            defaults.update({k: v for k, v in execute.items() if k in EXECUTE_KEYS})
    return defaults


def _front_for_pandoc(front: Mapping[str, Any], qmd: Path) -> dict[str, Any]:
    meta = {k: v for k, v in front.items() if k not in ("format", "execute", "jupyter", "params")}
    if str(meta.get("date", "")).strip().lower() in ("today", "now", "last-modified"):
        meta["date"] = datetime.date.today().isoformat()
    meta.setdefault("lang", "en")
    if not meta.get("title"):
        meta["pagetitle"] = qmd.stem
    return meta


def pandoc_version() -> str:
    import pypandoc

    return ".".join(str(p) for p in pypandoc.get_pandoc_version().split(".")[:3])


def _pandoc_html(markdown: str, qmd: Path, options: Mapping[str, Any]) -> str:
    import pypandoc

    arguments = [
        "--standalone",
        "--embed-resources",
        "--mathml",
        "--wrap=none",
        f"--css={_asset(CSS_NAME, qmd.parent)}",
        f"--lua-filter={_asset(FILTER_NAME, qmd.parent)}",
        f"--resource-path={qmd.parent.resolve()}",
    ]
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


def _with_footer(document: str, text: str) -> str:
    footer = f'<footer class="pm-render-info">\n<p>{escape(text)}</p>\n</footer>\n'
    head, marker, tail = document.rpartition("</body>")
    return f"{head}{footer}{marker}{tail}" if marker else document + footer


def _write_html(document: str, output_html: Path) -> None:
    with atomic_path(output_html) as temporary:
        temporary.write_text(document, encoding="utf-8")


# ----------------------------------------------------------------------------------- the engines


def quarto_binary() -> str | None:
    """Path of the ``quarto`` executable on PATH, or None."""
    return shutil.which("quarto")


def _render_jupyter(qmd: Path, output_html: Path, params: Mapping[str, Any], workdir: Path,
                    timeout: int, footer: str, progress: Progress) -> None:
    text, origins = expand_includes(qmd)
    document = parse_qmd(text, qmd.name, origins)
    project = _project_config(qmd)
    front = document.front_matter
    kernel = front.get("jupyter", "python3")
    if isinstance(kernel, Mapping):
        kernel = kernel.get("kernelspec", {}).get("name", "python3")
    options = {**_html_format(project), **_html_format(front)}
    notebook = build_notebook(document, params, kernel_name=str(kernel), figure=options)
    execute_notebook(notebook, workdir, timeout=timeout, progress=progress)
    defaults = _execute_defaults(front, project)
    if options.get("fig-align"):
        defaults["fig-align"] = options["fig-align"]
    body = notebook_markdown(notebook, defaults)
    meta = _front_for_pandoc(front, qmd)
    front_yaml = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    markdown = f"---\n{front_yaml}---\n\n{body}"
    started = time.perf_counter()
    page = _pandoc_html(markdown, qmd, options)
    progress(f"pandoc {pandoc_version()} wrote {len(page) / 1e6:.1f} MB in "
             f"{time.perf_counter() - started:.1f} s")
    _write_html(_with_footer(page, footer), output_html)


def _render_quarto(quarto: str, qmd: Path, output_html: Path, params: Mapping[str, Any],
                   workdir: Path, footer: str, progress: Progress) -> None:
    output_html.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_html.parent, prefix=".quarto-render-") as scratch:
        scratch = Path(scratch)
        params_file = scratch / "params.yml"
        params_file.write_text(yaml.safe_dump(dict(params), sort_keys=False), encoding="utf-8")
        out_dir = scratch / "out"
        command = [quarto, "render", str(qmd), "--to", "html", "--output", output_html.name,
                   "--output-dir", str(out_dir), "--execute-dir", str(workdir),
                   "--execute-params", str(params_file), "-M", "embed-resources:true"]
        progress("running " + " ".join(command))
        completed = subprocess.run(command, cwd=qmd.parent, stdout=sys.stderr, stderr=sys.stderr,
                                   check=False)
        if completed.returncode != 0:
            raise DataError(f"quarto render {qmd.name} failed (exit status {completed.returncode})",
                            "read Quarto's messages above; no HTML was written")
        produced = out_dir / output_html.name
        if not produced.is_file():
            found = sorted(out_dir.rglob("*.html")) + sorted(qmd.parent.glob(output_html.name))
            if not found:
                raise DataError(f"quarto render {qmd.name} reported success but wrote no HTML",
                                "run quarto render by hand to see where it writes")
            produced = found[0]
        page = produced.read_text(encoding="utf-8")
    _write_html(_with_footer(page, footer), output_html)


def render_report(qmd: str | Path, output_html: str | Path, params: Mapping[str, Any] | None = None,
                  *, engine: str = "auto", workdir: str | Path | None = None,
                  timeout: int = DEFAULT_TIMEOUT, progress: Progress = _stderr_progress) -> str:
    """Render ``qmd`` with ``params`` to one self-contained HTML file; return the engine used.

    Parameters
    ----------
    qmd : path
        The Quarto document (``report/report.qmd``).
    output_html : path
        Where the HTML goes; written atomically, absent if the render fails.
    params : mapping
        Report parameters (``state``, ``year``, ``results`` ...), injected after the cell tagged
        ``parameters``.
    engine : {"auto", "quarto", "jupyter"}
        ``auto`` uses Quarto when a ``quarto`` binary is on PATH, else Jupyter + pandoc.
    workdir : path
        Working directory of the code (default: the current one, the project root under
        Snakemake), so relative paths such as ``results/NM/2018`` resolve.
    timeout : int
        Seconds one chunk may run.
    progress : callable
        Receives progress lines (default: printed to stderr).

    Returns
    -------
    str
        ``"quarto"`` or ``"jupyter"``.
    """
    qmd, output_html = Path(qmd), Path(output_html)
    params = dict(params or {})
    if engine not in ENGINES:
        raise ConfigError(f"unknown report engine {engine!r}", f"use one of {', '.join(ENGINES)}")
    if not qmd.is_file():
        raise ConfigError(f"report source {qmd} does not exist", "pass the path of report.qmd")
    workdir = Path(workdir or Path.cwd()).resolve()
    quarto = quarto_binary()
    if engine == "quarto" and quarto is None:
        raise ConfigError(
            "engine 'quarto' asked for, but no quarto binary is on PATH",
            "install Quarto (conda install -c conda-forge quarto; or pip install quarto-cli, "
            "which downloads it) or use --engine auto / jupyter")
    started = time.perf_counter()
    if engine in ("auto", "quarto") and quarto:
        version = subprocess.run([quarto, "--version"], capture_output=True, text=True,
                                 check=False).stdout.strip() or "(version unknown)"
        progress(f"engine: Quarto {version} ({quarto})")
        _render_quarto(quarto, qmd, output_html, params, workdir,
                       f"Rendered with Quarto {version}", progress)
        used = "quarto"
    else:
        import nbclient

        reason = ("Quarto was not on PATH" if quarto is None
                  else "Quarto was not used (engine=jupyter)")
        footer = (f"Rendered with Jupyter (nbclient {nbclient.__version__}) + pandoc "
                  f"{pandoc_version()}; {reason}")
        progress(f"engine: Jupyter (nbclient) + pandoc; {reason}")
        _render_jupyter(qmd, output_html, params, workdir, timeout, footer, progress)
        used = "jupyter"
    progress(f"wrote {output_html} in {time.perf_counter() - started:.1f} s")
    return used


# ---------------------------------------------------------------------------------- state index


def _best_model(metrics_csv: Path, metric: str) -> dict[str, Any] | None:
    """The non-baseline model with the highest ``metric`` in an evaluation metrics table."""
    import pandas as pd

    if not metrics_csv.is_file():
        return None
    table = pd.read_csv(metrics_csv)
    rows = table[(table["metric"] == metric) & table["baseline"].isna()
                 & (table["model"] != "dummy") & table["estimate"].notna()]
    if rows.empty:
        return None
    best = rows.loc[rows["estimate"].idxmax()]
    return {"model": str(best["model"]), "metric": metric, "estimate": float(best["estimate"]),
            "se": _float(best.get("se")), "moe90": _float(best.get("moe90")),
            "reliable": bool(best.get("reliable", True))}


def _float(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _low_income_share(results_dir: Path, unit: str, summary: Mapping[str, Any]) -> dict | None:
    """Weighted share of low-income households: from the data summary, else from the features."""
    if isinstance(summary.get("low_income_share"), Mapping):
        return dict(summary["low_income_share"])
    features = results_dir / unit / "features.parquet"
    if not features.is_file():
        return None
    import pandas as pd

    from .survey import REPLICATES, SurveyDesign

    columns = ["low_income", "WGTP", *[f"WGTP{r}" for r in range(1, REPLICATES + 1)]]
    try:
        frame = pd.read_parquet(features, columns=columns)
    except (KeyError, ValueError, OSError):
        return None
    return SurveyDesign.from_frame(frame, "WGTP").proportion(frame["low_income"]).to_dict()


def index_entry(results_dir: str | Path, *, unit: str = "households",
                report: str = "report.html") -> dict[str, Any]:
    """Headline figures of one state-year's results folder, for :func:`render_index`.

    Reads ``data_summary.json`` and ``{unit}/metrics/{regression,classification}.csv``. Keys:
    ``state``, ``year``, ``survey``, ``households`` and ``median_household_income`` (estimate
    dicts with ``estimate``, ``se``, ``moe90``, ``reliable``), ``low_income_share`` (the same, or
    None), ``best_regression`` / ``best_classification`` (model, metric r2 / roc_auc, estimate,
    se, moe90; or None) and ``report`` (path of the state's report).
    """
    results_dir = Path(results_dir)
    summary_path = results_dir / "data_summary.json"
    if not summary_path.is_file():
        raise DataError(f"{summary_path} is missing",
                        f"run the pipeline for {results_dir} first (snakemake ... data_summary)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{summary_path} is not valid JSON: {error}",
                        "delete it and rerun the pipeline") from None
    metrics = results_dir / unit / "metrics"
    return {
        "state": summary.get("state"),
        "year": summary.get("year"),
        "survey": summary.get("survey"),
        "households": (summary.get("households") or {}).get("weighted"),
        "median_household_income": summary.get("median_household_income"),
        "low_income_share": _low_income_share(results_dir, unit, summary),
        "best_regression": _best_model(metrics / "regression.csv", "r2"),
        "best_classification": _best_model(metrics / "classification.csv", "roc_auc"),
        "report": str(results_dir / report),
    }


def _estimate_cell(estimate: Mapping[str, Any] | None, fmt: Callable[[float], str]) -> str:
    if not estimate or _float(estimate.get("estimate")) is None:
        return '<td class="number">&mdash;</td>'
    text = fmt(float(estimate["estimate"]))
    moe = _float(estimate.get("moe90"))
    if moe is not None:
        text += f" ± {fmt(moe)}"
    flag = ""
    if estimate.get("reliable") is False:
        flag = ' <span class="pm-unreliable" title="unreliable estimate">&dagger;</span>'
    return f'<td class="number">{escape(text)}{flag}</td>'


def _model_cell(best: Mapping[str, Any] | None) -> str:
    if not best:
        return '<td class="number">&mdash;</td>'
    text = f"{best['estimate']:.3f}"
    if best.get("moe90") is not None:
        text += f" ± {best['moe90']:.3f}"
    return f'<td class="number">{escape(text)} ({escape(best["model"])})</td>'


def _relative_link(target: str | Path, output_html: Path) -> str:
    relative = os.path.relpath(Path(target).resolve(), output_html.parent.resolve())
    return quote(Path(relative).as_posix())


def render_index(entries: Sequence[Mapping[str, Any]], output_html: str | Path,
                 *, title: str = "Policy ML reports by state") -> None:
    """Write an index page linking several states' reports, with a headline comparison table.

    ``entries`` come from :func:`index_entry`. Links are relative to ``output_html``; every label is
    HTML-escaped; the page is one self-contained file styled by policyml.css.
    """
    output_html = Path(output_html)
    css = _asset(CSS_NAME).read_text(encoding="utf-8")
    rows = []
    ordered = sorted(entries, key=lambda e: (str(e.get("state")), str(e.get("year"))))
    for entry in ordered:
        link = _relative_link(entry["report"], output_html) if entry.get("report") else None
        state = escape(entry.get("state", "?"))
        state_cell = f'<a href="{escape(link)}">{state}</a>' if link else state
        rows.append(
            "<tr>"
            f"<td>{state_cell}</td>"
            f"<td>{escape(entry.get('year', ''))}</td>"
            + _estimate_cell(entry.get("households"), lambda v: f"{v:,.0f}")
            + _estimate_cell(entry.get("median_household_income"), lambda v: f"${v:,.0f}")
            + _estimate_cell(entry.get("low_income_share"), lambda v: f"{100 * v:.1f}%")
            + _model_cell(entry.get("best_regression"))
            + _model_cell(entry.get("best_classification"))
            + "</tr>"
        )
    table = (
        '<table class="pm-index-table">\n<thead><tr>'
        "<th>State</th><th>Year</th>"
        '<th class="number">Households</th>'
        '<th class="number">Median household income</th>'
        '<th class="number">Low-income share</th>'
        '<th class="number">Best R² (log income)</th>'
        '<th class="number">Best AUC (low income)</th>'
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
{css}
</style>
</head>
<body class="pm-index">
<header id="title-block-header">
<h1 class="title">{escape(title)}</h1>
<p class="subtitle">{len(ordered)} state report{'s' if len(ordered) != 1 else ''}; follow a
state's link for its full report.</p>
</header>
<main>
{table}
<p>Estimates are weighted ACS PUMS figures with 90% margins of error (± 1.645 standard errors,
successive difference replication). &dagger; marks an estimate flagged unreliable. Low-income
households: the householder's family income is below the configured multiple of the poverty
line. Model scores are on each state's held-out test households, with the model that scored
best named in brackets.</p>
</main>
</body>
</html>
"""
    _write_html(_with_footer(page, "Index written by policyml.render"), output_html)


# ---------------------------------------------------------------------------------------- CLI


def _parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        separator = "=" if "=" in pair else ":" if ":" in pair else None
        if separator is None:
            raise ConfigError(f"report parameter {pair!r} is not KEY=VALUE",
                              "write e.g. -P state=NM")
        key, value = pair.split(separator, 1)
        params[key.strip()] = _scalar(value.strip())
    return params


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policyml.render",
        description="Render the policy report (.qmd) to one self-contained HTML file, with Quarto "
                    "when it is on PATH, else Jupyter (nbclient) + pandoc; or, with --index, "
                    "write an index page of several states' reports.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="the .qmd to render; with --index, results folders "
                             "(results/NM/2018 ...)")
    parser.add_argument("-o", "--output", required=True, help="the HTML file to write")
    parser.add_argument("-P", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a report parameter (repeatable); numbers become int/float")
    parser.add_argument("--engine", choices=ENGINES, default="auto")
    parser.add_argument("--workdir", default=None,
                        help="working directory of the report code (default: current)")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                        help=f"seconds one chunk may run (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--index", action="store_true",
                        help="write an index of the given results folders instead")
    args = parser.parse_args(argv)
    try:
        if args.index:
            render_index([index_entry(folder) for folder in args.inputs], args.output)
            _stderr_progress(f"wrote {args.output}")
        else:
            if len(args.inputs) != 1:
                raise ConfigError(f"expected one .qmd, got {len(args.inputs)} inputs",
                                  "render one report at a time, or pass --index")
            render_report(args.inputs[0], args.output, _parse_params(args.param),
                          engine=args.engine, workdir=args.workdir, timeout=args.timeout)
    except PolicymlError as error:
        print(one_line(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
