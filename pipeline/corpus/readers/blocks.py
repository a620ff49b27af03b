"""Headings and lines, the common shape of a markdown or HTML page: entries are cut at headings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.corpus.model import Entry
from pipeline.corpus.text import short_title

# headings down to this level start an entry; deeper ones are a line of their entry
ENTRY_LEVEL = 3


@dataclass
class Block:
    text: str
    level: int = 0  # 0: a line of text; 1-6: a heading


_PARSER = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
# a line that starts a field ("Advisor: …") or a dated item keeps its own line after a soft break;
# any other soft break is a paragraph wrapped in the source, joined back into one line
_FIELD_START = re.compile(r"^\W*[^\W\d][\w .()/&'-]{0,40}[:：]\s|^\s*(?:[-*•·]|\d+[.)]|\d{4}\b)")


_HEADINGS = {f"h{i}": i for i in range(1, 7)}
# elements that end a line of text
_BLOCKS = {"p", "div", "li", "tr", "br", "section", "article", "header", "footer", "dd", "dt", "blockquote",
           "ul", "ol", "table", "figure", "figcaption", "pre", "main", "aside", "nav", "hr", "dl", *_HEADINGS}
# elements whose content is not text a visitor reads
_HIDDEN = {"script", "style", "template", "noscript", "svg", "head", "iframe", "object", "canvas", "button", "form"}
_CELLS = {"td", "th"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._line: list[str] = []
        self._level = 0
        self._hidden = 0

    def _end_line(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._line)).strip(" |")
        if text:
            self.blocks.append(Block(text, self._level))
        self._line = []

    def handle_starttag(self, tag, attrs):
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self._end_line()
            self._level = _HEADINGS.get(tag, 0)
        elif tag in _CELLS and self._line:
            self._line.append(" | ")

    def handle_endtag(self, tag):
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self._end_line()
            self._level = 0

    def handle_startendtag(self, tag, attrs):
        if tag in ("br", "hr"):
            self._end_line()

    def handle_data(self, data):
        if not self._hidden:
            self._line.append(data)

    def close(self):
        super().close()
        self._end_line()


def html_blocks(markup: str) -> list[Block]:
    """Headings and lines of an HTML fragment; scripts, styles and forms leave no text."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return parser.blocks


def _inline(token: Token) -> str:
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append("\x00")  # decided below, once the next line's text is known
        elif child.type == "hardbreak" or child.type == "html_inline" and child.content.lower().startswith("<br"):
            parts.append("\n")
        # images: alt text describes a picture, it states nothing about the owner
    lines = "".join(parts).split("\x00")
    text = lines[0]
    for line in lines[1:]:
        text += ("\n" if _FIELD_START.match(line) or _FIELD_START.match(text.rsplit("\n", 1)[-1]) else " ") + line
    return re.sub(r"[ \t]+", " ", text)


def markdown_blocks(body: str) -> list[Block]:
    """Headings and text lines of a markdown body, in order."""
    tokens = _PARSER.parse(body)
    blocks: list[Block] = []
    list_depth = 0
    item_open = False
    row: list[str] = []
    headers: list[str] = []
    in_head = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            blocks.append(Block(_inline(tokens[i + 1]).replace("\n", " "), int(token.tag[1])))
            i += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif kind == "list_item_open":
            item_open = True
        elif kind == "thead_open":
            in_head, headers = True, []
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind in ("th_open", "td_open"):
            cell = " ".join(_inline(tokens[i + 1]).split())
            (headers if in_head else row).append(cell)
            i += 3
            continue
        elif kind == "tr_close" and not in_head and any(row):
            if headers and len(headers) == len(row):
                blocks.append(Block("; ".join(f"{h}: {c}" if h else c for h, c in zip(headers, row) if c)))
            else:
                blocks.append(Block(" | ".join(c for c in row if c)))
        elif kind == "inline":
            lines = [line.strip() for line in _inline(token).split("\n") if line.strip()]
            for n, line in enumerate(lines):
                bullet = "- " if list_depth and item_open and n == 0 else ""
                blocks.append(Block(bullet + line))
            item_open = False
        elif kind == "html_block":
            blocks.extend(Block(b.text) for b in html_blocks(token.content))
        i += 1
    return blocks




def entries_of(blocks: list[Block]) -> list[Entry]:
    """One entry per heading with text under it; text before any heading has no title (the page's)."""
    path: list[tuple[int, str]] = []
    entries: list[Entry] = []
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            # a heading of only markup (an image, a tag) has no text: the entry takes the page's title
            headings = [h for _, h in path if h]
            entries.append(Entry(title=headings[-1] if headings else "", text=text, context=headings[:-1]))
        lines.clear()

    for block in blocks:
        if 0 < block.level <= ENTRY_LEVEL:
            flush()
            path = [(level, h) for level, h in path if level < block.level] + [(block.level, short_title(block.text))]
        elif block.text.strip():
            lines.append(block.text.strip())
    flush()
    return entries
