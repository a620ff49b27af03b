"""HTML pages (and raw HTML inside markdown) as the text a visitor reads: headings and lines."""

from __future__ import annotations

from pipeline.corpus.model import Document, Page
from pipeline.corpus.readers.blocks import entries_of, html_blocks
from pipeline.corpus.readers.front_matter import page_of
from pipeline.corpus.text import strip_templates


def read_html(text: str, document: Document) -> Page:
    """An HTML page the generator renders (it has front matter): its front-matter record and its text."""
    page, body = page_of(text, document, required=True)
    page.entries.extend(entries_of(html_blocks(strip_templates(body))))
    return page
