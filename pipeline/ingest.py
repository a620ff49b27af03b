"""Idempotent ingestion: parse the corpus, embed only what changed, sync the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.corpus import ReadFile, SkippedFile, SplitSection, load_corpus
from pipeline.providers.base import Embedder, IndexMismatchError, VectorStore
from pipeline.text import KEYWORDS_VERSION

BATCH = 16
Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    corpus: str
    layout: str = "plain"
    files: int = 0
    chunks: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    read: list[ReadFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    split: list[SplitSection] = field(default_factory=list)

    @property
    def chunks_per_second(self) -> float:
        embedded = self.new + self.updated
        return embedded / self.seconds if self.seconds and embedded else 0.0


def ingest(
    corpus_dir: Path,
    store: VectorStore,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring `store` in line with `corpus_dir`; unchanged chunks are not re-embedded."""
    started = time.perf_counter()
    corpus = load_corpus(corpus_dir)
    report = IngestReport(corpus=str(corpus_dir), layout=corpus.layout, files=len(corpus.read),
                          chunks=len(corpus.chunks))
    report.read = corpus.read
    report.skipped = corpus.skipped
    report.split = corpus.split

    built_by = store.embedder_name()
    stored = store.existing_hashes()
    if built_by and built_by != embedder.name and not rebuild:
        raise IndexMismatchError(
            f"this index was built with the embedder '{built_by}', not '{embedder.name}': "
            "re-ingest with --rebuild or choose another --index"
        )
    # keyword tokens from an older version of the tokenizer: every chunk is rewritten
    stale_keywords = bool(stored) and store.keywords_version() != KEYWORDS_VERSION
    if rebuild:
        stored = {}

    current = {c.id: c for c in corpus.chunks}
    # load_corpus makes ids unique; counting over `current` keeps the figures consistent regardless
    # (a repeated id once meant one chunk lost, one re-embedded every run and "unchanged -1")
    report.chunks = len(current)
    todo = [c for c in current.values() if stale_keywords or stored.get(c.id) != c.content_hash]
    report.new = sum(1 for c in todo if c.id not in stored)
    report.updated = len(todo) - report.new
    report.unchanged = len(current) - len(todo)
    removed = [cid for cid in stored if cid not in current]
    report.deleted = len(removed)
    if not (todo or removed or rebuild):
        report.seconds = time.perf_counter() - started
        return report

    # everything slow happens before the store is touched: the index being served stays as it is
    vectors = []
    embed_started = time.perf_counter()
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        vectors.append(embedder.embed_passages([c.embed_text for c in batch]))
        if progress:
            progress(min(start + BATCH, len(todo)), len(todo))
    report.embed_seconds = time.perf_counter() - embed_started
    with _building(store) as writer:
        if rebuild or stale_keywords:
            # the keyword columns may have changed shape, and every chunk is re-embedded anyway
            writer.clear()
            removed = []
        if todo:
            writer.upsert(todo, np.vstack(vectors), embedder.name)
        if removed:
            writer.delete(removed)
    report.seconds = time.perf_counter() - started
    return report


def _building(store: VectorStore):
    """Where to write: a new generation that replaces the served one only when complete (LanceDB),
    or the store itself (a store that writes in place: Pinecone)."""
    build = getattr(store, "build", None)
    return build() if callable(build) else nullcontext(store)
