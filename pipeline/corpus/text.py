"""Plain text out of what site authors write: slugs, titles, inline markup, template syntax.

Static-site generators run their template languages over the page before markdown sees it:
Liquid (`{% include … %}`, `{{ site.title }}`) in Jekyll, shortcodes (`{{< figure >}}`,
`{{% callout %}}…{{% /callout %}}`) in Hugo. A visitor never reads them, so they go first;
a paired shortcode's inner text stays (it is the page's text).
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.entities import html5 as HTML5_ENTITIES  # noqa: N812 (a constant table)

# titles are shown as sources and repeated in every embedded text of their entry
MAX_TITLE_CHARS = 200

# {% comment %}…{% endcomment %} and {% raw %} markers; then any other tag or output
_LIQUID_COMMENT = re.compile(r"{%-?\s*comment\s*-?%}.*?{%-?\s*endcomment\s*-?%}", re.DOTALL)
_LIQUID_TAG = re.compile(r"{%-?.*?-?%}", re.DOTALL)
_LIQUID_OUTPUT = re.compile(r"{{-?(?![<%]).*?-?}}", re.DOTALL)
# Hugo shortcodes: {{< name args >}}, {{% name args %}}, their closing forms, and {{</* escaped */>}}
_SHORTCODE = re.compile(r"{{[<%]\s*/?\*?.*?\*?/?\s*[>%]}}", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# kramdown attribute lists ({: .class}, {:toc}) and heading ids ({#anchor})
_ATTRIBUTE_LIST = re.compile(r"{:[^}\n]*}|{#[\w-]+}(?=[ \t]*$)", re.MULTILINE)

# inline markdown, for titles and data values (bodies go through markdown-it)
# link text may not contain "[" (a run of "[" would otherwise be rescanned from every one of them);
# the URL may hold one level of balanced parentheses, as in javascript:alert(1) or Go_(game)
_URL = r"\((?:[^()]|\([^()]*\))*\)"
_IMAGE = re.compile(r"!\[[^\[\]]*\]" + _URL)
_LINK = re.compile(r"\[([^\[\]]*)\]" + _URL)
_EMPHASIS = re.compile(r"(\*\*|__|`)")
# *italic* and _italic_ (not snake_case or 2*3*4)
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_\n]+?)(?<=\S)\1(?![\w*])")
_AUTOLINK = re.compile(r"<((?:[A-Za-z][A-Za-z0-9+.-]{1,31}:|[^<>\s@]+@)[^<>\s]*)>")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>")
# markdown decodes only references closed by ";" (CommonMark), so "R&D" or "&copy2020" stay as written
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SEPARATOR = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")
_TOC_LINE = re.compile(r"^\s*(\d+\.|[-*])\s*\[[^\]]*\]\(#[^)]*\)\s*$")


def strip_templates(text: str) -> str:
    """The text with Liquid, Hugo shortcodes, HTML comments and kramdown attributes removed."""
    text = _LIQUID_COMMENT.sub("", text)
    text = _SHORTCODE.sub("", text)
    text = _LIQUID_TAG.sub("", text)
    text = _LIQUID_OUTPUT.sub("", text)
    text = _HTML_COMMENT.sub("", text)
    return _ATTRIBUTE_LIST.sub("", text)


def has_template_syntax(text: str) -> bool:
    """Whether any template syntax is left (a check for what must never reach a visitor)."""
    return bool(_LIQUID_TAG.search(text) or _LIQUID_OUTPUT.search(text) or _SHORTCODE.search(text))


def slugify(text: str) -> str:
    """A heading's anchor as static-site generators make it (unicode letters kept)."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"\s+", "-", text).strip("-") or "section"


def _decode_entity(match: re.Match) -> str:
    reference = match.group(0)
    if reference[1] == "#":
        return html.unescape(reference)
    return HTML5_ENTITIES.get(reference[1:], reference)


def clean_markdown(text: str) -> str:
    """Inline markdown to plain text lines: link text kept; images, emphasis and HTML tags dropped.

    Entities are decoded once, last: `&lt;b&gt;` is the text "<b>" to a reader, so it is kept
    as that text (and escaped once, by whoever renders it).
    """
    lines = []
    for line in strip_templates(text).splitlines():
        if _TOC_LINE.match(line) or _SEPARATOR.match(line):
            continue
        line = _IMAGE.sub("", line)
        line = _LINK.sub(r"\1", line)
        line = _EMPHASIS.sub("", line)
        line = _ITALIC.sub(r"\2", line)
        line = _AUTOLINK.sub(r"\1", line)
        line = _TAG.sub("", _SCRIPT.sub("", line))
        line = _ENTITY.sub(_decode_entity, line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def plain_title(text: str) -> str:
    """A heading, page title or data key as the one line of plain text shown as a source."""
    return short_title(clean_markdown(text))


def short_title(text: str) -> str:
    """Text that is already plain (a parsed heading) on one line of at most MAX_TITLE_CHARS."""
    title = " ".join(text.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_TITLE_CHARS // 2 else cut).rstrip() + "…"


_ACRONYMS = {"cv", "faq", "url", "doi", "gpa", "pdf", "orcid", "isbn"}


def humanize(key: str) -> str:
    """A data key as a label: `start_date` and `studyType` → "Start date", "Study type";
    a key already written for people ("Current Position", "LinkedIn", "기간") stays as it is."""
    if key.lower() in _ACRONYMS:
        return key.upper()
    if "_" in key or (re.fullmatch(r"[a-z0-9-]+", key) and "-" in key):
        words = key.replace("_", " ").replace("-", " ")
    elif re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", key):  # lowerCamelCase
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).lower()
    else:
        words = key
    words = " ".join(words.split())
    return words[:1].upper() + words[1:]
