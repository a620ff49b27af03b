"""Make an answer safe for the page: plain text, HTML-escaped, site-map labels as anchors.

The site renders the answer as HTML. Whatever the LM produced, only anchors
we build ourselves (exact site-map labels → their href) survive as markup, and only
to hrefs the persona allows (site paths, http(s) URLs).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from pipeline.persona import SiteLink, is_allowed_href

# the URL may hold one level of balanced parentheses: [x](javascript:alert(1)) leaves "x", not "x)"
_MD_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_TAG = re.compile(r"<[^>]*>")
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")


def to_plain_text(text: str) -> str:
    """Markdown links become their text; tags and emphasis markers are dropped."""
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _TAG.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a sentence or word boundary."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = max(cut.rfind(". "), cut.rfind("\n"), cut.rfind("다. "), cut.rfind("? "), cut.rfind("! "))
    if boundary > limit * 0.5:
        return cut[: boundary + 1].rstrip()
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.5 else cut).rstrip() + "…"


def render_answer(text: str, site_map: Sequence[SiteLink], limit: int) -> str:
    """Escaped answer text with the first mention of each site-map label linked."""
    plain = clip(to_plain_text(text), limit)
    escaped = html.escape(plain, quote=True)
    # persona.yaml is checked when it is read; this holds for a site map built any other way
    links = [link for link in site_map if link.label and is_allowed_href(link.href)]
    if not links:
        return escaped
    # longest labels first so "CV / Papers" wins over "Papers"
    links.sort(key=lambda link: -len(link.label))
    pattern = re.compile(
        "|".join(rf"(?<![\w/]){re.escape(html.escape(link.label))}(?!\w)" for link in links)
    )
    hrefs = {html.escape(link.label): link.href for link in links}
    linked: set[str] = set()

    def anchor(match: re.Match) -> str:
        label = match.group(0)
        if label in linked:
            return label
        linked.add(label)
        href = html.escape(hrefs[label], quote=True)
        return f'<a href="{href}">{label}</a>'

    return pattern.sub(anchor, escaped)


def section_label(doc_type: str, site_map: Sequence[SiteLink]) -> str | None:
    """The site-map label for a doc type, matched on label or href."""
    for link in site_map:
        slug = re.sub(r"[^a-z]", "", link.label.lower())
        tail = link.href.rstrip("/").rsplit("/", 1)[-1].lower()
        if doc_type in (slug, tail) or (doc_type == "papers" and slug in ("publications", "papers")):
            return link.label
    return None
