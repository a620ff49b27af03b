"""What reading a site produces: pages of entries, then chunks; and what was skipped, with why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.providers.base import Chunk


class CorpusError(ValueError):
    """The site folder cannot be used at all (missing, or nothing usable in it)."""


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class SplitSection:
    """An entry longer than MAX_CHUNK_CHARS, stored as `parts` chunks: anchor, anchor-part-2, …"""

    source: str
    anchor: str
    parts: int


@dataclass
class Document:
    """One file the layout chose to read: where it is, what section it belongs to, where it is shown."""

    path: Path
    source: str  # relative to the folder being ingested, forward slashes
    doc_type: str  # the site section (papers, talks, education, …)
    url: str = ""  # the page a visitor reads it on ("" when the layout cannot tell)
    title: str = ""  # a fallback page title (a Hugo bundle's folder name, a data file's stem)


@dataclass
class Entry:
    """One retrievable unit: a heading's text, a data-file item, a publication."""

    title: str
    text: str
    context: list[str] = field(default_factory=list)  # headings or sections above it
    doc_type: str = ""  # overrides the document's (a data file's `education` list)


@dataclass
class Page:
    """What a reader made of one file."""

    title: str
    entries: list[Entry]
    url: str = ""  # the file's own declaration (permalink, url, slug) wins over the layout's rule
    doc_type: str = ""  # declared in the file (`doc_type:`)
    unpublished: str = ""  # why the site does not show it (draft, published: false)
    meta: dict = field(default_factory=dict)  # the front matter, for the layout's URL rules


@dataclass
class ReadFile:
    """A file that became chunks: how it was read, how many entries, on which page."""

    path: str
    reader: str
    chunks: int
    url: str = ""


@dataclass
class Corpus:
    root: Path
    layout: str = "plain"
    site_root: Path | None = None  # where the layout's markers are (the folder itself or a parent)
    chunks: list[Chunk] = field(default_factory=list)
    read: list[ReadFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    split: list[SplitSection] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return [f.path for f in self.read]
