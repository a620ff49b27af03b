"""Markdown and MDX pages, parsed with markdown-it-py (CommonMark plus tables).

ATX and setext headings both cut entries; a soft line break stays a line break (CV pages put
one field per line: "Advisor: …"); list items are "- " lines; a table row is one line of
"Header: cell" pairs; raw HTML blocks are reduced to their text; code is not quoted.
Template syntax (Liquid, Hugo shortcodes) and HTML comments are removed before parsing.
"""

from __future__ import annotations

import re

from pipeline.corpus.model import Document, Entry, Page
from pipeline.corpus.readers.blocks import entries_of, markdown_blocks
from pipeline.corpus.readers.front_matter import only_summary, page_of
from pipeline.corpus.text import strip_templates

# MDX: import/export lines and JSX components are not text
_MDX_STATEMENT = re.compile(r"^(import|export)\s.*$", re.MULTILINE)


def read_markdown(text: str, document: Document) -> Page:
    """A markdown page: its front-matter record, then one entry per heading. Text before the first
    heading joins the record (both are about the page itself)."""
    page, body = page_of(text, document)
    if document.path.suffix.lower() == ".mdx":
        body = _MDX_STATEMENT.sub("", body)
    entries = entries_of(markdown_blocks(strip_templates(body)))
    if entries and not entries[0].title and page.entries and not page.entries[0].title:
        record = page.entries[0]
        page.entries[0] = Entry(title="", text=f"{record.text}\n{entries.pop(0).text}", context=[])
    elif entries and only_summary(page):
        # a description of a page whose headings say it all (an Astro or SEO `description:`) is not an
        # entry of its own: it would match every question about the page and say nothing
        page.entries = page.entries[1:]
    page.entries.extend(entries)
    return page
