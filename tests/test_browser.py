"""Browser tests: a rendered report opened in headless Debian chromium (skipped without it)."""

from __future__ import annotations

import pytest

from policyml.report.browser_check import browser_missing, check_in_browser
from policyml.report.render import render_report

MISSING = browser_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"browser check unavailable: {MISSING}")

BROWSER_QMD = '''\
---
title: "Browser check"
---

```{python}
#| tags: [parameters]
state = "XX"
```

# Overview

```{python}
#| output: asis
print(f"Report for {state}.")
```

::: {.callout-note title="Policy Insight"}
A note.
:::

```{python}
#| label: fig-line
#| fig-cap: "A line"
import matplotlib.pyplot as plt

figure, axis = plt.subplots(figsize=(4, 3))
axis.plot([0, 1], [0, 1])
```

## Details

```{python}
import pandas as pd
from IPython.display import Markdown

Markdown(pd.DataFrame({"group": ["<b>x</b>"], "n": [3]}).to_markdown(index=False))
```
'''

BROKEN_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>broken</title></head>
<body>
<nav id="TOC"><ul>
<li><a href="#present">Present</a></li><li><a href="#absent">Absent</a></li>
</ul></nav>
<h1 id="present">Present</h1>
<img src="data:image/png;base64,bm90IGEgcG5n" alt="not a png">
<script>throw new Error("deliberate failure");</script>
</body></html>
"""


def test_browser_rendered_report_has_no_problems(tmp_path):
    """Check that images decode, TOC targets exist and the console is clean in chromium."""
    qmd = tmp_path / "browser.qmd"
    qmd.write_text(BROWSER_QMD)
    html = tmp_path / "browser.html"
    render_report(qmd, html, {"state": "NM"}, engine="jupyter", workdir=tmp_path,
                  progress=lambda _: None)
    screenshot = tmp_path / "first-screen.png"
    assert check_in_browser(html, screenshot) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_browser_check_reports_broken_image_link_and_console_error(tmp_path):
    """Check that an undecodable image, a dangling TOC link and a script error are all reported."""
    html = tmp_path / "broken.html"
    html.write_text(BROKEN_HTML)
    problems = check_in_browser(html)
    assert len(problems) == 3, problems
    assert problems[0].startswith("image 0 did not decode")
    assert problems[1] == "table-of-contents link #absent has no target id"
    assert problems[2].startswith("console:") and "deliberate failure" in problems[2]
