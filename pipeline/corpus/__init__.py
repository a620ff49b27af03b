"""Read a site's repository (or any folder in it) into chunks.

The layout (`layouts/`: Jekyll, Hugo, Astro, a plain folder) decides which files are content,
what section each belongs to and on which page a visitor reads it; a reader per format
(`readers/`: markdown, HTML, data, BibTeX) turns each file into entries; `chunking` makes
them bounded chunks. Every file is either read or listed as skipped with the reason: one
bad file never costs the rest of the site.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.corpus.chunking import MAX_CHUNK_CHARS, page_chunks
from pipeline.corpus.files import MAX_FILE_BYTES, read_text, walk
from pipeline.corpus.layouts import Layout, detect
from pipeline.corpus.model import Corpus, CorpusError, Document, ReadFile, SkippedFile, SplitSection
from pipeline.corpus.readers import read
from pipeline.corpus.readers.front_matter import MAX_FRONT_MATTER_CHARS
from pipeline.corpus.text import MAX_TITLE_CHARS, clean_markdown, plain_title, slugify

log = logging.getLogger(__name__)
PERSONA_FILES = ("persona.yaml", "persona.yml")

__all__ = [
    "Corpus", "CorpusError", "MAX_CHUNK_CHARS", "MAX_FILE_BYTES", "MAX_FRONT_MATTER_CHARS", "MAX_TITLE_CHARS",
    "ReadFile", "SkippedFile", "SplitSection", "clean_markdown", "load_corpus", "plain_title", "slugify",
]


def _site_path(layout: Layout, folder: Path, relative: str) -> str:
    """A path under the ingested folder as the layout sees it: relative to the site's root."""
    base = folder.absolute().relative_to(layout.root).as_posix()
    return relative if base == "." else f"{base}/{relative}"


def _read_file(layout: Layout, document: Document, corpus: Corpus) -> None:
    split: list[SplitSection] = []
    name, page, problems = read(read_text(document.path), document)
    if page.unpublished:
        corpus.skipped.append(SkippedFile(document.source, page.unpublished))
        return
    page.url = page.url or layout.url(document, page.meta)
    chunks = page_chunks(page, document, split)
    if not chunks:
        raise ValueError("no text in it (only settings, template code or empty fields)")
    corpus.skipped.extend(SkippedFile(f"{document.source} ({p.split(':')[0]})", p) for p in problems)
    corpus.read.append(ReadFile(document.source, name, len(chunks), page.url))
    corpus.chunks.extend(chunks)
    corpus.split.extend(split)


def load_corpus(root: Path) -> Corpus:
    """Read every content file under `root`; every other file is listed with the reason it was not."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"{root} is not a folder; pass your site's folder (its repository root or content folder)")
    layout = detect(root)
    corpus = Corpus(root=root, layout=layout.name, site_root=layout.root)

    def prune(folder: str) -> str | None:
        return layout.prune(_site_path(layout, root, folder))

    for source, path in walk(root, corpus.skipped, prune):
        if path.name in PERSONA_FILES:
            continue  # read by pipeline.persona
        placed = layout.place(_site_path(layout, root, source), source)
        if isinstance(placed, str):
            corpus.skipped.append(SkippedFile(source, placed))
            continue
        try:
            _read_file(layout, placed, corpus)
        except OSError as exc:
            corpus.skipped.append(SkippedFile(source, f"unreadable: {exc.strerror or exc}"))
        except (ValueError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply to read"
            corpus.skipped.append(SkippedFile(source, reason))
        except Exception as exc:  # noqa: BLE001 - a reader's own bug on one file must not cost the site
            log.exception("reading %s failed", source)
            corpus.skipped.append(SkippedFile(source, f"could not be read ({exc.__class__.__name__}: {exc})"))
    if not corpus.chunks:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:5])
        raise CorpusError(
            f"no readable page or data file in {root} (layout: {layout.name})"
            + (f" ({reasons})" if reasons else " (the folder is empty)")
        )
    return corpus

