"""Open a rendered report in headless Chromium and list what a reader would find broken.

:func:`check_in_browser` loads the HTML from a ``file://`` URL in Debian's chromium driven by its
chromedriver through Selenium (explicit paths, so Selenium Manager never goes online) and checks
that every image decoded, every table-of-contents link has its target, the console logged no
SEVERE entry and the page fetched nothing over the network. It saves a screenshot of the first
screen. Usage::

    python -m policyml.report.browser_check results/NM/2018/report.html --screenshot /tmp/report.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..core.errors import ConfigError

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
WINDOW = (1280, 900)

# Run in the page once it has loaded; returns what the checks need.
_INSPECT = """
const images = Array.from(document.images).map((img, i) => ({
  index: i,
  src: (img.getAttribute('src') || '').slice(0, 60),
  complete: img.complete,
  naturalWidth: img.naturalWidth,
}));
const toc = Array.from(document.querySelectorAll('#TOC a[href], nav[role="doc-toc"] a[href]'))
  .map(a => a.getAttribute('href'));
const missing = toc.filter(h => h.startsWith('#'))
  .filter(h => !document.getElementById(decodeURIComponent(h.slice(1))));
const external = performance.getEntriesByType('resource').map(e => e.name)
  .filter(n => /^(https?|wss?):/i.test(n));
return {images: images, toc: toc, missing: missing, external: external,
        text: document.body ? document.body.innerText.length : 0,
        ready: document.readyState};
"""


def browser_missing(chromium: str = CHROMIUM, chromedriver: str = CHROMEDRIVER) -> str | None:
    """Why the browser check cannot run here (None when it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for name, path in (("chromium", chromium), ("chromedriver", chromedriver)):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"{name} not found at {path} (apt-get install chromium chromium-driver)"
    return None


def check_in_browser(
    html_path: str | Path,
    screenshot_path: str | Path | None = None,
    *,
    chromium: str = CHROMIUM,
    chromedriver: str = CHROMEDRIVER,
    timeout: float = 60.0,
) -> list[str]:
    """Load ``html_path`` in headless Chromium; return the problems found (empty when fine).

    Problems reported: an ``<img>`` that did not decode (``naturalWidth == 0``), a table-of-contents
    link whose ``#id`` does not exist, a SEVERE browser console entry, a resource fetched over
    http(s), and an empty page. A screenshot of the first screen goes to ``screenshot_path``.
    Raises :class:`~policyml.core.errors.ConfigError` when the browser or driver is missing.
    """
    reason = browser_missing(chromium, chromedriver)
    if reason:
        raise ConfigError(f"cannot run the browser check: {reason}",
                          "install Debian's chromium and chromium-driver, or skip this check")
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise ConfigError(f"{html_path} does not exist", "render the report first")

    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="policyml-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which(chromium) or chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=shutil.which(chromedriver) or chromedriver)
        try:
            driver = webdriver.Chrome(service=service, options=options)
        except WebDriverException as error:
            raise ConfigError(f"chromium did not start: {error.msg or error}",
                              "check that chromium and chromedriver versions match") from None
        try:
            driver.set_page_load_timeout(timeout)
            driver.get(html_path.as_uri())
            deadline = time.monotonic() + timeout
            state = driver.execute_script(_INSPECT)
            def loading(state) -> bool:
                return state["ready"] != "complete" or not all(
                    image["complete"] for image in state["images"])

            while loading(state) and time.monotonic() < deadline:
                time.sleep(0.1)
                state = driver.execute_script(_INSPECT)
            for image in state["images"]:
                if image["naturalWidth"] == 0:
                    problems.append(f"image {image['index']} did not decode "
                                    f"(src {image['src']!r}...)")
            for href in state["missing"]:
                problems.append(f"table-of-contents link {href} has no target id")
            for url in state["external"]:
                problems.append(f"the page fetched {url} over the network")
            if state["text"] == 0:
                problems.append("the page shows no text")
            for entry in driver.get_log("browser"):
                if entry.get("level") == "SEVERE":
                    problems.append(f"console: {entry.get('message')}")
            if screenshot_path is not None:
                screenshot_path = Path(screenshot_path)
                screenshot_path.parent.mkdir(parents=True, exist_ok=True)
                if not driver.save_screenshot(str(screenshot_path)):
                    problems.append(f"could not save a screenshot to {screenshot_path}")
        finally:
            driver.quit()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policyml.report.browser_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("html", help="the rendered report")
    parser.add_argument("--screenshot", default=None,
                        help="where to save a PNG of the first screen")
    args = parser.parse_args(argv)
    problems = check_in_browser(args.html, args.screenshot)
    for problem in problems:
        print(f"browser_check: {problem}", file=sys.stderr)
    print(f"browser_check: {len(problems)} problem(s) in {args.html}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
