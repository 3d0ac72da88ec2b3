"""What a reader sees in a rendered report, independent of the engine's markup (for test_quarto.py).

:func:`read_report` parses a report page with the standard library's HTML parser and returns its
section headings (without their numbers), callouts (kind and title), embedded figures, figure
captions and the text of the document body, leaving out the title block, the table of contents,
the footer and anything hidden (scripts, styles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
HIDDEN_TAGS = {"script", "style", "head", "nav", "footer", "title", "svg"}
HIDDEN_IDS = {"TOC", "title-block-header", "quarto-margin-sidebar", "quarto-sidebar"}
HIDDEN_CLASSES = {"header-section-number", "toc-section-number"}
#: a number as the prose prints it: 794,123 / $45,792 / 0.487 / 40.4% / -1.5
NUMBER = re.compile(r"(?<![\w.])[-−]?\$?\d[\d,]*(?:\.\d+)?%?")


@dataclass
class Report:
    headings: list[tuple[int, str]] = field(default_factory=list)
    callouts: list[tuple[str, str]] = field(default_factory=list)
    figures: int = 0
    captions: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def numbers(self) -> list[str]:
        return NUMBER.findall(self.text)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.report = Report()
        self.stack: list[tuple[str, bool, str | None]] = []  # tag, hidden, what it collects
        self.buffers: dict[str, list[str]] = {}
        self.words: list[str] = []
        self.kinds: list[str] = []

    @property
    def hidden(self) -> bool:
        return any(hidden for _, hidden, _ in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag == "img" and not self.hidden and (attributes.get("src") or "").startswith("data:image"):
            self.report.figures += 1
        if tag in VOID:
            return
        hidden = (tag in HIDDEN_TAGS or attributes.get("id") in HIDDEN_IDS
                  or bool(classes & HIDDEN_CLASSES) or "hidden" in attributes)
        collects = None
        if hidden or self.hidden:
            pass
        elif re.fullmatch(r"h[1-3]", tag):
            collects = f"heading{tag[1]}"
        elif classes & {"callout-title-container", "pm-callout-title"}:
            collects = "callout"
        elif tag == "figcaption":
            collects = "caption"
        kind = next((c.removeprefix("pm-").removeprefix("callout-") for c in classes
                     if re.fullmatch(r"(pm-)?callout-(note|warning|tip|important|caution)", c)), None)
        if kind:
            self.kinds.append(kind)
        if collects:
            self.buffers[collects] = []
        self.stack.append((tag, hidden, collects))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            open_tag, _, collects = self.stack.pop()
            if collects:
                text = " ".join("".join(self.buffers.pop(collects, [])).split())
                if collects.startswith("heading"):
                    self.report.headings.append((int(collects[-1]), text))
                elif collects == "callout":
                    kind = self.kinds[-1] if self.kinds else "?"
                    self.report.callouts.append((kind, text))
                else:
                    self.report.captions.append(text)
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.hidden:
            return
        for buffer in self.buffers.values():
            buffer.append(data)
        self.words.append(data)


def read_report(page: str) -> Report:
    """Headings, callouts, figures, captions and body text of a rendered report page."""
    reader = _Reader()
    reader.feed(page)
    reader.close()
    reader.report.text = " ".join(" ".join(reader.words).split())
    return reader.report
