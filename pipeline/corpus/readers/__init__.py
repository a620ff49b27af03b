"""One reader per file format, chosen by extension: each turns a file's text into a Page."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.corpus.model import Document, Page
from pipeline.corpus.readers.bibtex import read_bibtex
from pipeline.corpus.readers.data import read_data
from pipeline.corpus.readers.html import read_html
from pipeline.corpus.readers.markdown import read_markdown

Reader = Callable[[str, Document], Page]

READERS: dict[str, tuple[str, Reader]] = {
    ".md": ("markdown", read_markdown), ".markdown": ("markdown", read_markdown), ".mdx": ("markdown", read_markdown),
    ".html": ("html", read_html), ".htm": ("html", read_html),
    ".yml": ("data", read_data), ".yaml": ("data", read_data), ".json": ("data", read_data),
    ".toml": ("data", read_data),
}


def read(text: str, document: Document) -> tuple[str, Page, list[str]]:
    """(reader name, page, problems with parts of the file that were left out)."""
    suffix = document.path.suffix.lower()
    if suffix == ".bib":
        page, problems = read_bibtex(text, document)
        return "bibtex", page, problems
    name, reader = READERS[suffix]
    return name, reader(text, document), []
