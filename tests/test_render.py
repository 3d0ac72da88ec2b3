"""Tests for policyml.report.render: the fallback engine (Jupyter + pandoc), Quarto hand-off, index."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policyml.core.errors import ConfigError, DataError
from policyml.report import fallback
from policyml.report.fallback import ChunkError, parse_qmd
from policyml.report.render import (
    escape,
    index_entry,
    main,
    quarto_binary,
    render_index,
    render_report,
)

REPORT_QMD = Path(__file__).resolve().parents[1] / "report" / "report.qmd"

SYNTHETIC_QMD = '''\
---
title: "Synthetic policy report"
---

```{python}
#| label: params
#| tags: [parameters]
state = "DEFAULT_STATE"
year = 1999
```

# Context

```{python}
#| output: asis
print(f"This report covers {state} in {year}; see Figure 1.")
```

::: {.callout-note title="Policy Insight"}
Households above the line are **not** the whole story.
:::

```{python}
#| label: fig-scatter
#| fig-cap: "Income against hours (synthetic)"
import pandas as pd
from plotnine import aes, geom_point, ggplot

frame = pd.DataFrame({"hours": [10, 20, 30, 40], "income": [1.0, 3.0, 2.0, 4.0]})
ggplot(frame, aes("hours", "income")) + geom_point()
```

# Groups

```{python}
#| label: table-groups
from IPython.display import Markdown

groups = pd.DataFrame({"group": ["<script>alert(1)</script>", "A & B"], "share": [0.4, 0.6]})
Markdown(groups.to_markdown(index=False))
```

## A matplotlib figure

```{python}
#| label: hidden-code
import matplotlib.pyplot as plt

secret_marker = "SECRET_CODE_MARKER"
figure, axis = plt.subplots(figsize=(4, 3))
axis.plot([0, 1, 2], [2, 0, 1])
```

```{python}
#| echo: true
print("parameters:", state, year)
```
'''

FAILING_QMD = '''\
---
title: "Failing"
---

```{python}
#| label: fine
x = 1
```

Some text.

```{python}
#| label: broken-chunk
raise ValueError("no such results folder")
```
'''


class _Collector(HTMLParser):
    """Collects ids, TOC links, resource references and images from an HTML page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.toc_links: list[str] = []
        self.resources: list[str] = []
        self.images: list[str] = []
        self._in_toc = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "nav" and attributes.get("id") == "TOC":
            self._in_toc += 1
        elif tag == "nav" and self._in_toc:
            self._in_toc += 1
        if tag == "a" and self._in_toc:
            self.toc_links.append(attributes.get("href", ""))
        if tag in ("img", "script", "iframe", "source", "video", "audio") and "src" in attributes:
            self.resources.append(attributes["src"])
        if tag == "link" and "href" in attributes:
            self.resources.append(attributes["href"])
        if tag == "img":
            self.images.append(attributes.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "nav" and self._in_toc:
            self._in_toc -= 1


def _collect(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    qmd = folder / "synthetic.qmd"
    qmd.write_text(SYNTHETIC_QMD)
    output = folder / "out" / "report.html"
    lines: list[str] = []
    engine = render_report(qmd, output, {"state": "NM-TEST", "year": 2018}, engine="jupyter",
                           workdir=folder, progress=lines.append)
    return {"engine": engine, "page": output.read_text(encoding="utf-8"), "progress": lines,
            "output": output}


def test_render_report_injects_parameters(rendered):
    """Check that -P values replace the parameters cell's defaults in prose and in chunk output."""
    page = rendered["page"]
    assert "This report covers NM-TEST in 2018" in page
    assert "parameters: NM-TEST 2018" in page
    assert "DEFAULT_STATE" not in page and "in 1999" not in page


def test_render_report_writes_callout_with_title(rendered):
    """Check that a callout-note div becomes a styled box carrying its title."""
    match = re.search(
        r'<div class="pm-callout pm-callout-note"[^>]*>\s*<div class="pm-callout-title">\s*'
        r"Policy Insight\s*</div>\s*<div class=\"pm-callout-body\">\s*<p>Households above",
        rendered["page"])
    assert match, "callout box with title not found"


def test_render_report_embeds_figures_as_png_data_uris(rendered):
    """Check that the plotnine and matplotlib figures are PNG data URIs that decode as images."""
    from PIL import Image

    images = _collect(rendered["page"]).images
    assert len(images) == 2
    for src in images:
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(raw)) as image:
            assert image.width > 100 and image.height > 100


def test_render_report_captions_and_numbers_figures(rendered):
    """Check that a fig- labelled chunk's fig-cap becomes a numbered caption, as in Quarto."""
    page = rendered["page"]
    assert re.search(r'<figure id="fig-scatter">.*?<figcaption><strong>Figure 1:</strong> '
                     r"Income against hours \(synthetic\)</figcaption>", page, re.S)
    assert page.count("<figcaption>") == 1  # the unlabelled matplotlib figure has no caption


def test_render_report_escapes_data_labels_in_markdown_tables(rendered):
    """Check that a '<script>' label from a Markdown table output arrives as escaped text."""
    page = rendered["page"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "A &amp; B" in page


def test_render_report_toc_links_point_to_existing_ids(rendered):
    """Check that every table-of-contents link targets an id present in the page."""
    collected = _collect(rendered["page"])
    assert len(collected.toc_links) == 3
    for href in collected.toc_links:
        assert href.startswith("#")
        assert href[1:] in collected.ids


def test_render_report_is_self_contained(rendered):
    """Check that the page references no http(s) or protocol-relative resources."""
    collected = _collect(rendered["page"])
    for reference in collected.resources:
        assert not re.match(r"^(https?:)?//", reference), reference
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", rendered["page"])
    assert "mathjax" not in rendered["page"].lower()


def test_render_report_hides_code_unless_echo(rendered):
    """Check that chunk code is hidden by default and shown for echo: true, without #| lines."""
    page = rendered["page"]
    assert "SECRET_CODE_MARKER" not in page
    assert "plt.subplots" not in page
    assert "cell-code" in page and "#|" not in page
    assert page.count('class="sourceCode python cell-code"') == 1


def test_render_report_footer_names_engine(rendered):
    """Check that the footer says the page was rendered with Jupyter + pandoc, not Quarto."""
    assert rendered["engine"] == "jupyter"
    footer = re.search(r'<footer class="pm-render-info">(.*?)</footer>', rendered["page"], re.S)
    assert footer
    assert re.search(r"Rendered with Jupyter \(nbclient [\d.]+\) \+ pandoc \d+\.\d+", footer[1])
    assert "Quarto was not" in footer[1]


def test_render_report_reports_progress_per_cell(rendered):
    """Check that progress names each cell as i/n with its label."""
    lines = rendered["progress"]
    cells = [line for line in lines if line.startswith("cell ")]
    total = len(cells)
    assert [int(line.split()[1].split("/")[0]) for line in cells] == list(range(1, total + 1))
    assert any(f"/{total} fig-scatter (synthetic.qmd line " in line for line in cells)


def test_render_report_failing_chunk_names_label_and_writes_nothing(tmp_path):
    """Check that an exception in a chunk raises ChunkError naming the chunk, leaving no HTML."""
    qmd = tmp_path / "failing.qmd"
    qmd.write_text(FAILING_QMD)
    output = tmp_path / "out" / "failing.html"
    with pytest.raises(ChunkError) as caught:
        render_report(qmd, output, {}, engine="jupyter", workdir=tmp_path, progress=lambda _: None)
    message = str(caught.value)
    assert "broken-chunk" in message and "failing.qmd line 12" in message
    assert "ValueError: no such results folder" in message
    assert caught.value.label == "broken-chunk" and caught.value.ename == "ValueError"
    assert not output.exists()
    assert not list(output.parent.glob("*")) if output.parent.exists() else True


def test_render_main_failing_chunk_exits_nonzero_with_one_line(tmp_path, capsys):
    """Check that the CLI prints one 'policyml: error:' line naming the chunk and returns 1."""
    qmd = tmp_path / "failing.qmd"
    qmd.write_text(FAILING_QMD)
    status = main([str(qmd), "--output", str(tmp_path / "x.html"), "--engine", "jupyter",
                   "--workdir", str(tmp_path)])
    assert status == 1
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("policyml: error:")]
    assert len(errors) == 1 and "broken-chunk" in errors[0]
    assert not (tmp_path / "x.html").exists()


def test_parse_qmd_reads_options_and_splits_markdown():
    """Check that #| options parse as YAML and markdown between chunks stays as text."""
    text = ("---\ntitle: T\n---\n\nIntro.\n\n```python\nnot_run()\n```\n\n"
            "```{python}\n#| label: fig-a\n#| fig-cap: \"A: caption\"\n#| tags: [parameters]\n"
            "x = 1\n```\n")
    document = parse_qmd(text)
    assert document.front_matter == {"title": "T"}
    chunks = document.chunks
    assert len(chunks) == 1
    assert chunks[0].options == {"label": "fig-a", "fig-cap": "A: caption", "tags": ["parameters"]}
    assert chunks[0].where == "document line 11" and chunks[0].body == "x = 1"
    assert "not_run()" in document.parts[0]


def test_parse_qmd_refuses_unclosed_chunk_other_engines_and_duplicate_labels():
    """Check that an unclosed chunk, an {r} chunk and a reused label are ConfigErrors naming the line."""
    with pytest.raises(ConfigError, match="line 1: the chunk opened here is never closed"):
        parse_qmd("```{python}\nx = 1\n")
    with pytest.raises(ConfigError, match=r"line 3: a \{r\} chunk"):
        parse_qmd("Text\n\n```{r}\n1\n```\n")
    with pytest.raises(ConfigError, match=r"runs plain \{python\} chunks"):
        parse_qmd("```{python echo=false}\n```\n")
    with pytest.raises(ConfigError,
                       match="chunk label 'a' is used at document line 1 and at document line 4"):
        parse_qmd("```{python}\n#| label: a\n```\n```{python}\n#| label: a\n```\n")


@pytest.mark.parametrize("text, message", [
    ("```{python}\n#| code-fold: true\nx = 1\n```\n",
     r"document line 1: the option 'code-fold' is not rendered by the fallback engine "
     r"\(it renders chunk options: label, tags, echo"),
    ("```{python}\n#| output: markup\n```\n", r"output: 'markup' is not rendered"),
    ("Text\n{{< video x.mp4 >}}\n", r"document line 2: shortcodes"),
    ("The state is `{python} state`.\n", r"document line 1: inline code"),
    ("As @fig-income shows.\n", r"cross-references"),
    ("::: {.callout-tip}\nTip.\n:::\n", r"the callout .callout-tip is not rendered"),
    ("::: {.panel-tabset .callout-important}\n:::\n", r"the callout .callout-important"),
    ("---\nbibliography: refs.bib\n---\n", r"front matter: the key 'bibliography'"),
    ("---\nformat:\n  html:\n    code-fold: true\n---\n", r"the option 'code-fold'.*html options"),
])
def test_parse_qmd_refuses_what_the_fallback_does_not_render(text, message):
    """Check that a Quarto feature outside fallback.RENDERS is refused with its line, not dropped."""
    with pytest.raises(ConfigError, match=message) as caught:
        parse_qmd(text)
    assert "fallback.RENDERS" in str(caught.value)


def test_report_qmd_uses_only_what_the_fallback_renders():
    """Check that report.qmd and its _quarto.yml use only the constructs of fallback.RENDERS."""
    document = parse_qmd(REPORT_QMD.read_text(encoding="utf-8"), REPORT_QMD.name)
    fallback.project_config(REPORT_QMD)
    assert len(document.chunks) > 50
    assert sum("parameters" in chunk.tags for chunk in document.chunks) == 1


def test_fallback_renders_every_listed_construct():
    """Check that every chunk option and callout of RENDERS is used by the synthetic report or report.qmd."""
    used = SYNTHETIC_QMD + REPORT_QMD.read_text(encoding="utf-8")
    for option in fallback.RENDERS["chunk options"]:
        assert re.search(rf"^#\| {option}:", used, re.M), option
    for callout in fallback.RENDERS["callouts"]:
        assert f".{callout}" in used, callout


def test_render_report_rejects_bad_parameter_name(tmp_path):
    """Check that a parameter name that is not an identifier is refused before any execution."""
    qmd = tmp_path / "r.qmd"
    qmd.write_text("# T\n")
    with pytest.raises(ConfigError, match="not a Python identifier"):
        render_report(qmd, tmp_path / "r.html", {"bad-name": 1}, engine="jupyter",
                      progress=lambda _: None)


def _fake_quarto(bin_dir: Path, body: str) -> None:
    """A stand-in ``quarto`` script (for the hand-off on machines without Quarto; the real
    Quarto is tested in test_quarto.py)."""
    bin_dir.mkdir()
    fake = bin_dir / "quarto"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo 9.9.9; exit 0; fi\n{body}')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)


def test_render_report_quarto_engine_renders_a_scratch_copy(tmp_path, monkeypatch):
    """Check that Quarto gets a scratch copy of the report folder, absolute params and this Python."""
    calls = tmp_path / "calls.txt"
    _fake_quarto(tmp_path / "bin", f"""printf '%s\\n' "$PWD" "$QUARTO_PYTHON" "$@" > {calls}
while [ $# -gt 0 ]; do [ "$1" = "--execute-params" ] && cp "$2" {tmp_path}/params-seen.yml; shift; done
mkdir .quarto report_files
printf '<html><body><p>quarto page</p></body></html>' > report.html
""")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "report").mkdir()
    qmd = tmp_path / "report" / "report.qmd"
    qmd.write_text("# T\n")
    output = tmp_path / "site" / "report.html"
    engine = render_report(qmd, output, {"state": "NM", "year": 2018}, workdir=tmp_path,
                           progress=lambda _: None)
    assert engine == "quarto"
    cwd, python, *arguments = calls.read_text().splitlines()
    assert Path(cwd).name == "report" and Path(cwd) != qmd.parent and not Path(cwd).exists()
    assert python == sys.executable
    assert arguments[:4] == ["render", "report.qmd", "--to", "html"]
    assert arguments[arguments.index("--execute-dir") + 1] == str(tmp_path.resolve())
    assert Path(arguments[arguments.index("--execute-params") + 1]).is_absolute()
    import yaml

    assert yaml.safe_load((tmp_path / "params-seen.yml").read_text()) == {"state": "NM",
                                                                           "year": 2018}
    page = output.read_text()
    assert "quarto page" in page and "Rendered with Quarto 9.9.9" in page
    assert [p.name for p in output.parent.iterdir()] == ["report.html"]
    assert sorted(p.name for p in qmd.parent.iterdir()) == ["report.qmd"]


def test_render_report_quarto_failure_is_one_error_naming_the_cell(tmp_path, monkeypatch):
    """Check that a failing quarto render gives a DataError naming Quarto's cell and error, no HTML."""
    _fake_quarto(tmp_path / "bin", """echo "Cell 3/9: 'maps-setup'.....Done"
echo "Cell 4/9: 'fig-map'.........ERROR: "
echo 'KeyError: puma'
exit 1
""")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    qmd = tmp_path / "report.qmd"
    qmd.write_text("# T\n")
    output = tmp_path / "site" / "report.html"
    with pytest.raises(DataError, match=r"quarto render report.qmd failed \(exit status 1\): "
                                        r"report chunk fig-map \(cell 4/9\) failed: KeyError: puma"):
        render_report(qmd, output, {}, progress=lambda _: None)
    assert not output.exists()


def test_render_report_quarto_engine_missing_is_config_error(tmp_path, monkeypatch):
    """Check that engine='quarto' without a quarto binary names the fix."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    qmd = tmp_path / "r.qmd"
    qmd.write_text("# T\n")
    assert quarto_binary() is None
    with pytest.raises(ConfigError, match="no quarto binary is on PATH or beside this Python"):
        render_report(qmd, tmp_path / "r.html", {}, engine="quarto", progress=lambda _: None)


def test_escape_escapes_html_specials():
    """Check that escape() turns <, >, & and quotes into entities."""
    assert escape('<a href="x">&\'</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;&lt;/a&gt;"


# ------------------------------------------------------------------------------------------- index


def _results_folder(root: Path, state: str, rng: np.random.Generator) -> tuple[Path, dict]:
    """A results/{state}/2018 folder with a data summary, metrics and a small features table."""
    folder = root / "results" / state / "2018"
    (folder / "households" / "metrics").mkdir(parents=True)
    summary = {
        "state": state, "year": 2018, "survey": "1-Year",
        "households": {"sample": 40, "weighted": {"estimate": 1000.0, "se": 10.0, "moe90": 16.45,
                                                  "reliable": True}},
        "median_household_income": {"estimate": 45791.98, "se": 936.49, "moe90": 1540.53,
                                    "reliable": True},
    }
    (folder / "data_summary.json").write_text(json.dumps(summary))
    # XGBoost's RMSE lead over OLS is distinguishable (recommended); the MLP's AUC lead is not
    pd.DataFrame({
        "task": "regression", "model": ["dummy", "ols", "xgboost", "dummy", "xgboost"] * 2,
        "baseline": [None, None, None, "ols", "ols"] * 2, "metric": ["r2"] * 5 + ["rmse"] * 5,
        "estimate": [0.0, 0.46, 0.49, 0.9, 0.03, 1.0, 0.75, 0.72, 0.25, -0.03],
        "se": [0.001, 0.025, 0.024, 0.01, 0.01, 0.01, 0.02, 0.02, 0.01, 0.01],
        "moe90": [0.002, 0.041, 0.039, 0.02, 0.016, 0.016, 0.033, 0.033, 0.016, 0.016],
        "reliable": True,
    }).to_csv(folder / "households" / "metrics" / "regression.csv", index=False)
    pd.DataFrame({
        "task": "classification", "model": ["dummy", "logistic", "mlp", "mlp"],
        "baseline": [None, None, None, "logistic"], "metric": "roc_auc",
        "estimate": [0.5, 0.854, 0.86, 0.006], "se": [0.0, 0.0126, 0.0124, 0.006],
        "moe90": [0.0, 0.0208, 0.0204, 0.0099], "reliable": True,
    }).to_csv(folder / "households" / "metrics" / "classification.csv", index=False)
    n = 40
    weights = rng.uniform(10, 50, n)
    replicates = weights[:, None] * rng.uniform(0.5, 1.5, (n, 80))
    low_income = (rng.uniform(size=n) < 0.4).astype(float)
    low_income[3] = np.nan
    features = pd.DataFrame({"low_income": low_income, "WGTP": weights})
    for r in range(80):
        features[f"WGTP{r + 1}"] = replicates[:, r]
    features.to_parquet(folder / "households" / "features.parquet")
    return folder, {"weights": weights, "replicates": replicates, "low_income": low_income}


def test_index_entry_reads_summary_metrics_and_low_income_share(tmp_path):
    """Check index_entry's recommended models (the report's rule) and its low-income share/SE against a hand calculation."""
    folder, data = _results_folder(tmp_path, "NM", np.random.default_rng(1))
    entry = index_entry(folder)
    assert (entry["state"], entry["year"]) == ("NM", 2018)
    assert entry["median_household_income"]["estimate"] == pytest.approx(45791.98)
    assert entry["recommended_regression"]["model"] == "xgboost"  # its RMSE lead is distinguishable
    assert entry["recommended_regression"]["estimate"] == pytest.approx(0.49)  # its R², not a difference
    assert entry["recommended_classification"]["model"] == "logistic"  # the MLP's lead is not
    valid = ~np.isnan(data["low_income"])
    y, w, reps = data["low_income"][valid], data["weights"][valid], data["replicates"][valid]
    share = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
    replicate_shares = [sum(reps[:, r] * y) / sum(reps[:, r]) for r in range(80)]
    se = (4 / 80 * sum((s - share) ** 2 for s in replicate_shares)) ** 0.5
    assert entry["low_income_share"]["estimate"] == pytest.approx(share)
    assert entry["low_income_share"]["se"] == pytest.approx(se)
    assert entry["report"] == str(folder / "report.html")


def test_render_index_escapes_labels_and_links_relatively(tmp_path):
    """Check that the index escapes a <script> label and links each report relative to itself."""
    rng = np.random.default_rng(2)
    first = index_entry(_results_folder(tmp_path, "NM", rng)[0])
    second = index_entry(_results_folder(tmp_path, "VT", rng)[0])
    second["state"] = "<script>alert('x')</script>"
    output = tmp_path / "results" / "index.html"
    render_index([first, second], output)
    page = output.read_text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert '<a href="NM/2018/report.html">NM</a>' in page
    assert 'href="VT/2018/report.html"' in page
    assert "$45,792 ± $1,541" in page
    assert "0.490 ± 0.039 (xgboost)" in page and "0.854 ± 0.021 (logistic)" in page
    assert "<style>" in page and "pm-callout" in page  # the report stylesheet, inlined
    collected = _collect(page)
    assert not [r for r in collected.resources if re.match(r"^(https?:)?//", r)]


def test_index_entry_missing_summary_is_data_error(tmp_path):
    """Check that a results folder without data_summary.json names the file and the fix."""
    from policyml.core.errors import DataError

    with pytest.raises(DataError, match="data_summary.json is missing"):
        index_entry(tmp_path)


def test_render_real_quarto_failing_chunk_is_one_line_and_no_html(tmp_path, capsys):
    """Check that with the real Quarto a failing report chunk gives one error line naming it, and no HTML."""
    if quarto_binary() is None:
        pytest.skip("no Quarto on PATH or in the virtual environment (tools/install-quarto.sh)")
    output = tmp_path / "report.html"
    status = main([str(REPORT_QMD), "-o", str(output), "-P", "state=WY", "-P", "year=2018",
                   "-P", f"results={tmp_path / 'missing'}", "--engine", "quarto"])
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("policyml: error:")]
    assert status == 1 and len(errors) == 1
    assert re.search(r"report chunk setup \(cell \d+/\d+\) failed: DataError: the report needs "
                     r".*missing/run_settings.json, which does not exist", errors[0])
    assert not output.exists() and list(tmp_path.iterdir()) == []
