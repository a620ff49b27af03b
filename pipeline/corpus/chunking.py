"""A page's entries as chunks: unique anchors, bounded size, a content hash for idempotent ingest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from pipeline.corpus.model import Document, Page, SplitSection
from pipeline.corpus.text import slugify
from pipeline.providers.base import Chunk

MAX_CHUNK_CHARS = 1500
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


class Anchors:
    """Unique anchors within one page, in document order, by github-slugger's rule (the
    heading ids of Astro and most static-site generators): a slug already taken gets -1,
    -2, … of its own count until the name is free, so "Foo", "Foo", "Foo 1" become foo,
    foo-1, foo-1-1. The same file always gives the same ids."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def claim(self, slug: str) -> str:
        base, anchor = slug, slug
        while anchor in self._counts:
            self._counts[base] += 1
            anchor = f"{base}-{self._counts[base]}"
        self._counts[anchor] = 0
        return anchor


def _line_pieces(line: str, limit: int) -> Iterator[str]:
    """A line cut into pieces of at most `limit` characters: between sentences, else between
    words, else (a run without spaces) every `limit` characters."""
    if len(line) <= limit:
        yield line
        return
    for sentence in _SENTENCE_END.split(line):
        if len(sentence) <= limit:
            yield sentence
            continue
        for word in sentence.split(" "):
            for start in range(0, len(word), limit):
                yield word[start : start + limit]


def split_long(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Parts of at most `limit` characters, packed greedily: whole lines where they fit,
    otherwise the sentences (or words) of a long line, so no part ends mid-word."""
    if len(text) <= limit:
        return [text]
    parts, current = [], ""
    for line in text.split("\n"):
        separator = "\n"
        for piece in _line_pieces(line, limit):
            if current and len(current) + len(separator) + len(piece) > limit:
                parts.append(current)
                current = piece
            else:
                current = f"{current}{separator}{piece}" if current else piece
            separator = " "
    if current:
        parts.append(current)
    return parts


def make_chunk(source: str, doc_type: str, page_title: str, title: str, anchor: str, text: str,
               url: str = "") -> Chunk:
    digest = hashlib.sha1("\x1f".join((doc_type, page_title, title, text, url)).encode()).hexdigest()
    return Chunk(id=f"{source}#{anchor}", source=source, doc_type=doc_type, title=title, anchor=anchor,
                 text=text, page_title=page_title, content_hash=digest, url=url)


def page_chunks(page: Page, document: Document, split: list[SplitSection]) -> list[Chunk]:
    """Every entry of a page as one chunk, or a long entry as bounded parts (anchor, anchor-part-2, …)."""
    anchors, chunks = Anchors(), []
    url = page.url or document.url
    for entry in page.entries:
        text = entry.text.strip()
        if not text:
            continue
        title = entry.title or page.title
        context = " / ".join([page.title, *entry.context])
        doc_type = page.doc_type or entry.doc_type or document.doc_type
        anchor = anchors.claim(slugify(title))
        parts = split_long(text)
        if len(parts) > 1:
            split.append(SplitSection(document.source, anchor, len(parts)))
        names = [anchor] + [anchors.claim(f"{anchor}-part-{i}") for i in range(2, len(parts) + 1)]
        chunks += [make_chunk(document.source, doc_type, context, title, name, part, url)
                   for name, part in zip(names, parts)]
    return chunks
