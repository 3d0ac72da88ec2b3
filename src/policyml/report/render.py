"""Render the policy report (.qmd) to one self-contained HTML file, with Quarto or the fallback.

Two engines read the same ``report/report.qmd``:

``quarto``
    ``quarto render``, with the Quarto found on PATH or installed beside this Python (the
    virtual environment's or conda environment's ``bin/``, where ``tools/install-quarto.sh``,
    ``pip install quarto-cli`` and conda-forge's ``quarto`` put it). It renders a scratch copy of
    the .qmd's folder, so Quarto's working files (``.quarto/``, ``*_files/``, a ``.gitignore``)
    never land in ``report/`` and renders running side by side never share a file. Chunks run
    in this Python (``QUARTO_PYTHON``), which needs ``papermill`` for Quarto's parameters.
``jupyter``
    The fallback for machines without Quarto (:mod:`policyml.report.fallback`): Jupyter (nbclient) and
    pandoc, for exactly the Quarto features that ``fallback.RENDERS`` lists.

``engine="auto"`` picks Quarto when it is found. Either way the footer names the engine and its
version, the HTML is written atomically (no partial file on failure) and a failure is one error.

HTML outputs and ``output: asis`` text are trusted by both engines: build them with
:func:`escape` around every data-derived value. Usage::

    python -m policyml.report.render report/report.qmd --output results/NM/2018/report.html \\
        -P state=NM -P year=2018 -P results=results/NM/2018 [--engine auto|quarto|jupyter]
    python -m policyml.report.render --index results/NM/2018 results/VT/2018 --output results/index.html
"""

from __future__ import annotations

import argparse
import ast
import collections
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
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import quote

import yaml

from ..core import layout
from ..core.errors import ConfigError, DataError, PolicymlError, one_line
from ..core.outputs import atomic_path
from . import fallback

ENGINES = ("auto", "quarto", "jupyter")
#: seconds one chunk may run (fallback engine) before the render is abandoned
DEFAULT_TIMEOUT = 3600
#: what Quarto may leave next to a .qmd: not copied into the scratch folder
_QUARTO_LEFTOVERS = (".quarto", "*_files", "*.html", ".gitignore", "*.ipynb")
_NUMBER_INT = re.compile(r"^[+-]?\d+$")
_NUMBER_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")

Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    print(f"render: {message}", file=sys.stderr, flush=True)


def escape(value: Any) -> str:
    """HTML-escape a data-derived value (``&``, ``<``, ``>``, quotes) for raw HTML outputs."""
    return html.escape(str(value), quote=True)


def _check_params(params: Mapping[str, Any]) -> None:
    """Report parameters must be identifiers with literal values (both engines write them as code)."""
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


def _scalar(text: str) -> Any:
    """A command-line value as Python: int, float, true/false, else the string itself."""
    if _NUMBER_INT.match(text):
        return int(text)
    if _NUMBER_FLOAT.match(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _with_footer(document: str, text: str) -> str:
    footer = f'<footer class="pm-render-info">\n<p>{escape(text)}</p>\n</footer>\n'
    head, marker, tail = document.rpartition("</body>")
    return f"{head}{footer}{marker}{tail}" if marker else document + footer


def _write_html(document: str, output_html: Path) -> None:
    with atomic_path(output_html) as temporary:
        temporary.write_text(document, encoding="utf-8")


def rendered_with(page_html: str | Path) -> str | None:
    """What a rendered page's footer says of its engine ("Rendered with Quarto 1.7.34"), or None."""
    try:
        with open(page_html, encoding="utf-8") as page:
            page.seek(max(0, Path(page_html).stat().st_size - 4096))
            tail = page.read()
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r'<footer class="pm-render-info">\s*<p>(.*?)</p>', tail, re.S)
    return html.unescape(" ".join(match[1].split())) if match else None


def report_lines(paths: Sequence[str | Path]) -> list[str]:
    """One line per finished report of ``paths``: where it is and which engine rendered it."""
    lines = []
    for path in paths:
        if str(path).endswith(".html") and Path(path).is_file():
            engine = rendered_with(path)
            lines.append(f"policyml: report {path}" + (f" ({engine})" if engine else ""))
    return lines


# ----------------------------------------------------------------------------------- the engines


def quarto_binary() -> str | None:
    """The ``quarto`` executable: on PATH, else beside this Python (a venv's or conda env's bin)."""
    found = shutil.which("quarto")
    if found:
        return found
    beside = Path(sys.executable).parent / "quarto"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def quarto_version(quarto: str) -> str:
    """What ``quarto --version`` prints, e.g. ``1.7.34``."""
    try:
        completed = subprocess.run([quarto, "--version"], capture_output=True, text=True,
                                   timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConfigError(f"{quarto} --version failed: {error}",
                          "reinstall Quarto (tools/install-quarto.sh) or use --engine jupyter"
                          ) from None
    version = completed.stdout.strip()
    if completed.returncode != 0 or not version:
        raise ConfigError(f"{quarto} --version failed (exit status {completed.returncode}): "
                          f"{' '.join((completed.stderr or '').split())[:300]}",
                          "reinstall Quarto (tools/install-quarto.sh) or use --engine jupyter")
    return version.splitlines()[-1]


def _quarto_failure(qmd: Path, status: int, lines: Sequence[str]) -> DataError:
    """One error for a failed ``quarto render``, naming the chunk and the error from its output."""
    text = [line.strip() for line in lines if line.strip()]
    cell = next((re.match(r"^Cell (\d+/\d+): '([^']*)'", line) for line in reversed(text)
                 if re.match(r"^Cell \d+/\d+: '", line)), None)
    error = next((line for line in reversed(text)
                  if re.match(r"^(\w+(Error|Exception)\b|ERROR:)", line)), None)
    where = f"report chunk {cell[2] or 'without a label'} (cell {cell[1]})" if cell else None
    message = f"quarto render {qmd.name} failed (exit status {status})"
    if where or error:
        message += ": " + " failed: ".join(part for part in (where, error) if part)
    if error and "(fix: " in error:  # a policyml error from the chunk carries its own fix
        return DataError(f"{message}; no HTML was written")
    return DataError(message, "read Quarto's messages in the render log; no HTML was written")


def _render_quarto(quarto: str, qmd: Path, params: Mapping[str, Any], workdir: Path,
                   progress: Progress) -> str:
    """``quarto render`` of a scratch copy of ``qmd``'s folder; the HTML page as a string."""
    with tempfile.TemporaryDirectory(prefix="policyml-render-") as scratch:
        folder = Path(scratch) / qmd.parent.name
        shutil.copytree(qmd.parent, folder, ignore=shutil.ignore_patterns(*_QUARTO_LEFTOVERS))
        params_file = Path(scratch) / "params.yml"
        params_file.write_text(yaml.safe_dump(dict(params), sort_keys=False), encoding="utf-8")
        command = [quarto, "render", qmd.name, "--to", "html", "--execute-dir", str(workdir),
                   "--execute-params", str(params_file), "-M", "embed-resources:true"]
        progress(f"running {' '.join(command)} in a scratch copy of {qmd.parent}")
        environment = {**os.environ, "QUARTO_PYTHON": sys.executable}
        last: collections.deque[str] = collections.deque(maxlen=60)
        with subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace") as process:
            for line in process.stdout:
                line = fallback.strip_ansi(line).rstrip()
                if line:
                    progress(f"quarto: {line}")  # Quarto's own progress, to the log
                last.append(line)
        if process.returncode != 0:
            raise _quarto_failure(qmd, process.returncode, last)
        produced = folder / f"{qmd.stem}.html"
        if not produced.is_file():
            raise DataError(f"quarto render {qmd.name} reported success but wrote no "
                            f"{produced.name}", "run quarto render by hand to see where it writes")
        return produced.read_text(encoding="utf-8")


def render_report(qmd: str | Path, output_html: str | Path, params: Mapping[str, Any] | None = None,
                  *, engine: str = "auto", workdir: str | Path | None = None,
                  timeout: int = DEFAULT_TIMEOUT, progress: Progress = _stderr_progress) -> str:
    """Render ``qmd`` with ``params`` to one self-contained HTML file; return the engine used.

    Parameters
    ----------
    qmd : path
        The Quarto document (``report/report.qmd``); its folder is copied, never written to.
    output_html : path
        Where the HTML goes; written atomically, absent if the render fails.
    params : mapping
        Report parameters (``state``, ``year``, ``results`` ...), set after the cell tagged
        ``parameters``.
    engine : {"auto", "quarto", "jupyter"}
        ``auto`` uses Quarto when :func:`quarto_binary` finds it, else the fallback.
    workdir : path
        Working directory of the code (default: the current one, the project root under
        Snakemake), so relative paths such as ``results/NM/2018`` resolve.
    timeout : int
        Seconds one chunk may run (fallback engine).
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
    _check_params(params)
    workdir = Path(workdir or Path.cwd()).resolve()
    quarto = quarto_binary() if engine != "jupyter" else None
    if engine == "quarto" and quarto is None:
        raise ConfigError(
            "engine 'quarto' asked for, but no quarto binary is on PATH or beside this Python",
            "install Quarto (see the README: tools/install-quarto.sh, pip install -e '.[quarto]' "
            "or conda install -c conda-forge quarto) or use --engine auto / jupyter")
    started = time.perf_counter()
    if quarto:
        version = quarto_version(quarto)
        progress(f"engine: Quarto {version} ({quarto})")
        page = _render_quarto(quarto, qmd, params, workdir, progress)
        footer, used = f"Rendered with Quarto {version}", "quarto"
    else:
        import nbclient

        reason = "Quarto was not found" if engine == "auto" else "Quarto was not used (engine=jupyter)"
        progress(f"engine: Jupyter (nbclient) + pandoc; {reason}")
        page = fallback.render(qmd, params, workdir, timeout=timeout, progress=progress)
        footer = (f"Rendered with Jupyter (nbclient {nbclient.__version__}) + pandoc "
                  f"{fallback.pandoc_version()}, policyml's fallback engine; {reason}")
        used = "jupyter"
    _write_html(_with_footer(page, footer), output_html)
    progress(f"wrote {output_html} in {time.perf_counter() - started:.1f} s ({footer})")
    return used


# ---------------------------------------------------------------------------------- state index


def _recommended_model(metrics_csv: Path, task: str, metric: str) -> dict[str, Any] | None:
    """The model :func:`policyml.model.selection.select_model` recommends (the report's rule), with its
    ``metric``, from an evaluation metrics table."""
    import pandas as pd

    from ..model.selection import select_model

    if not metrics_csv.is_file():
        return None
    table = pd.read_csv(metrics_csv)
    try:
        chosen = select_model(table, task).chosen
    except DataError:
        return None
    rows = table[(table["model"] == chosen) & (table["metric"] == metric) & table["baseline"].isna()]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return {"model": chosen, "metric": metric, "estimate": float(row["estimate"]),
            "se": _float(row.get("se")), "moe90": _float(row.get("moe90")),
            "reliable": bool(row.get("reliable", True))}


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
    features = results_dir / layout.relative("features", unit=unit)
    if not features.is_file():
        return None
    import pandas as pd

    from ..core.survey import REPLICATES, SurveyDesign

    columns = ["low_income", "WGTP", *[f"WGTP{r}" for r in range(1, REPLICATES + 1)]]
    try:
        frame = pd.read_parquet(features, columns=columns)
    except (KeyError, ValueError, OSError):
        return None
    return SurveyDesign.from_frame(frame, "WGTP").proportion(frame["low_income"]).to_dict()


def index_entry(results_dir: str | Path, *, unit: str = "households") -> dict[str, Any]:
    """Headline figures of one state-year's results folder, for :func:`render_index`.

    Reads ``data_summary.json`` and ``{unit}/metrics/{regression,classification}.csv``. Keys:
    ``state``, ``year``, ``survey``, ``households`` and ``median_household_income`` (estimate
    dicts with ``estimate``, ``se``, ``moe90``, ``reliable``), ``low_income_share`` (the same, or
    None), ``recommended_regression`` / ``recommended_classification`` (the report's recommended
    model, its metric r2 / roc_auc, estimate,
    se, moe90; or None) and ``report`` (path of the state's report).
    """
    results_dir = Path(results_dir)
    summary_path = results_dir / layout.relative("data_summary")
    if not summary_path.is_file():
        raise DataError(f"{summary_path} is missing",
                        f"run the pipeline for {results_dir} first (snakemake ... data_summary)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{summary_path} is not valid JSON: {error}",
                        "delete it and rerun the pipeline") from None
    def metrics(task: str) -> Path:
        return results_dir / layout.relative("metrics", unit=unit, task=task)

    return {
        "state": summary.get("state"),
        "year": summary.get("year"),
        "survey": summary.get("survey"),
        "households": (summary.get("households") or {}).get("weighted"),
        "median_household_income": summary.get("median_household_income"),
        "low_income_share": _low_income_share(results_dir, unit, summary),
        "recommended_regression": _recommended_model(metrics("regression"), "regression", "r2"),
        "recommended_classification": _recommended_model(metrics("classification"),
                                                         "classification", "roc_auc"),
        "report": str(results_dir / layout.relative("report")),
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
    css = (fallback.REPORT_DIR / fallback.CSS_NAME).read_text(encoding="utf-8")
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
            + _model_cell(entry.get("recommended_regression"))
            + _model_cell(entry.get("recommended_classification"))
            + "</tr>"
        )
    table = (
        '<table class="pm-index-table">\n<thead><tr>'
        "<th>State</th><th>Year</th>"
        '<th class="number">Households</th>'
        '<th class="number">Median household income</th>'
        '<th class="number">Low-income share</th>'
        '<th class="number">R² of the recommended model (log income)</th>'
        '<th class="number">AUC of the recommended model (low income)</th>'
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
line. Model scores are on each state's held-out test households, for the model its report
recommends (named in brackets): the best on the primary metric (RMSE, ROC AUC) when its lead over
the linear baseline is distinguishable from zero, else the baseline.</p>
</main>
</body>
</html>
"""
    _write_html(_with_footer(page, "Index written by policyml.report.render"), output_html)


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
        prog="python -m policyml.report.render",
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
