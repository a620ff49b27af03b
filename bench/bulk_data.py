"""Ingest stays bounded on big data files: a 1,000-entry .bib and a 5,000-item JSON Resume.

Reading, chunking and writing everything (with an instant embedder, so only the workbench's own
work is timed) is compared with the real embedder's time for the same texts, measured on an
evenly spaced sample of them in the same run and scaled to the count (embedding every one of
6,000 passages would take minutes on a laptop CPU). The ratio

    bulk_ingest_ratio = (ingest without embedding + embedder's time) ÷ embedder's time

is what a whole ingest costs over the embedder alone (goal < 2).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL = 2.0


def write_site(folder: Path, entries: int, items: int) -> Path:
    """A plain folder with one large BibTeX file and one large JSON Resume (synthetic, made here)."""
    folder.mkdir(parents=True, exist_ok=True)
    bib = [f"@article{{p{i}, title={{Synthetic study number {i} of coastal sediment transport}},"
           f" author={{Doe, Jane and Roe, Rick{i % 7}}}, journal={{Journal {i % 13}}}, year={{{2000 + i % 25}}},"
           f" abstract={{We measure thing {i} and find effect {i % 11}.}}}}" for i in range(entries)]
    (folder / "papers.bib").write_text("\n".join(bib), encoding="utf-8")
    resume = {"basics": {"name": "Jane Doe", "label": "Researcher"},
              "work": [{"name": f"Org {i}", "position": f"Role {i % 9}", "startDate": f"{2000 + i % 20}-01",
                        "endDate": f"{2001 + i % 20}-06", "highlights": [f"Did task {i} with team {i % 5}"]}
                       for i in range(items)]}
    (folder / "resume.json").write_text(json.dumps(resume), encoding="utf-8")
    return folder


class _Instant:
    """Vectors without a model: what is timed with it is the workbench's own work."""

    def __init__(self, name: str, dim: int):
        self.name, self.dim = name, dim

    def embed_passages(self, texts):
        vectors = np.ones((len(texts), self.dim), dtype=np.float32)
        return vectors / np.sqrt(self.dim)

    embed_queries = embed_passages


def run(embedder, entries: int = 1000, items: int = 5000, sample: int = 96) -> dict:
    from pipeline.corpus import load_corpus
    from pipeline.ingest import BATCH, ingest
    from pipeline.providers.lancedb_store import LanceDBStore

    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    try:
        site = write_site(work / "site", entries, items)
        started = time.perf_counter()
        corpus = load_corpus(site)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        ingest(site, LanceDBStore(work / "index"), _Instant(embedder.name, embedder.dim))
        own_s = time.perf_counter() - started
        texts = [c.embed_text for c in corpus.chunks]
        picked = texts[:: max(1, len(texts) // sample)][:sample]
        started = time.perf_counter()
        for start in range(0, len(picked), BATCH):
            embedder.embed_passages(picked[start : start + BATCH])
        embed_s = (time.perf_counter() - started) / len(picked) * len(texts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"bib_entries": entries, "resume_items": items, "chunks": len(texts), "read_seconds": read_s,
            "ingest_without_embedding_seconds": own_s, "embedder_seconds_estimated": embed_s,
            "embedder_sample": len(picked), "bulk_ingest_ratio": (own_s + embed_s) / embed_s, "goal": GOAL}
