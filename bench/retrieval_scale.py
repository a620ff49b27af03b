"""How the embedded vector store grows: LanceDB at 1k, 10k and 100k chunks of dimension 384.

The physical baseline is exact brute-force search with NumPy on the same vectors in the
same process: one matrix product and a partial sort. For each size the store is built
through its own `upsert` (the path `workbench ingest` takes, full-text index included) and
queried through `dense_search`, with and without a metadata filter on `doc_type`; recall@10
is measured against the exact answer. LanceDB's own query path (`native_dense_search`,
what the store uses above its in-memory row cap) is timed beside it, on fewer queries.

The vectors are synthetic, because embedding 100k passages takes hours here: unit vectors
drawn around many cluster centres (documents on shared topics), queries drawn near stored
vectors (questions near their answers). Exact search does not care about the distribution;
an approximate index would, which is why it is stated.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import folder_bytes, ratio, summarize, timed_each

DIM = 384
K = 10
DOC_TYPES = ("education", "experience", "projects", "papers", "awards", "skills", "teaching", "other")
RECALL_GOAL = 0.98
P50_RATIO_GOAL = 2.0


def synthetic_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """`n` unit vectors around n/100 random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(16, n // 100), dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_queries(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = vectors[rng.integers(0, len(vectors), count)]
    queries = picked + 0.3 * rng.normal(size=picked.shape).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def synthetic_chunks(n: int):
    from pipeline.providers.base import Chunk

    return [
        Chunk(id=f"bench.md#c{i}", source="bench.md", doc_type=DOC_TYPES[i % len(DOC_TYPES)],
              title=f"Entry {i}", anchor=f"c{i}", text=f"Synthetic entry {i} about topic {i % 97}.",
              page_title="Bench", content_hash=str(i))
        for i in range(n)
    ]


class ExactNumpy:
    """The baseline: every score computed, the top k picked; a filter masks rows out."""

    def __init__(self, vectors: np.ndarray, doc_types: list[str]):
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.types = np.asarray(doc_types)

    def search(self, query: np.ndarray, k: int, doc_type: str | None = None) -> list[int]:
        scores = self.vectors @ query
        if doc_type is not None:
            scores = np.where(self.types == doc_type, scores, -np.inf)
        top = np.argpartition(-scores, k - 1)[:k]
        return top[np.argsort(-scores[top])].tolist()


def _recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def _row_ids(hits) -> list[int]:
    return [int(h.chunk.anchor[1:]) for h in hits]


def measure_size(n: int, queries: int = 200, native_queries: int = 30,
                 workdir: Path | None = None) -> dict:
    """Build a store of `n` synthetic chunks and measure it against exact NumPy search."""
    from pipeline.providers.lancedb_store import LanceDBStore

    vectors = synthetic_vectors(n)
    chunks = synthetic_chunks(n)
    probes = synthetic_queries(vectors, queries)
    filters = [DOC_TYPES[i % len(DOC_TYPES)] for i in range(queries)]
    folder = Path(tempfile.mkdtemp(prefix=f"bench-store-{n}-", dir=workdir))
    try:
        started = time.perf_counter()
        LanceDBStore(folder).upsert(chunks, vectors, "bench/synthetic-384")
        build_s = time.perf_counter() - started
        disk = folder_bytes(folder)

        store = LanceDBStore(folder)  # a new process's view: the first query loads the vectors
        started = time.perf_counter()
        store.dense_search(probes[0], K)
        open_s = time.perf_counter() - started

        exact = ExactNumpy(vectors, [c.doc_type for c in chunks])
        pairs = list(zip(probes, filters))
        for query, doc_type in pairs[:10]:  # warm both paths the same way
            exact.search(query, K), exact.search(query, K, doc_type)
            store.dense_search(query, K), store.dense_search(query, K, [doc_type])

        ms_exact, want = timed_each(lambda q: exact.search(q, K), probes)
        ms_store, got = timed_each(lambda q: store.dense_search(q, K), probes)
        ms_exact_f, want_f = timed_each(lambda p: exact.search(p[0], K, p[1]), pairs)
        ms_store_f, got_f = timed_each(lambda p: store.dense_search(p[0], K, [p[1]]), pairs)
        ms_native, got_native = timed_each(lambda q: store.native_dense_search(q, K), probes[:native_queries])
        # hits → row numbers after the clock stopped: only the searches are timed
        got, got_f, got_native = ([_row_ids(hits) for hits in side] for side in (got, got_f, got_native))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def side(latencies: list[float]) -> dict:
        figures = summarize(latencies, sum(latencies) / 1000)
        return {"p50_ms": figures["p50_ms"], "p99_ms": figures["p99_ms"]}

    result: dict[str, Any] = {
        "chunks": n, "dim": DIM, "queries": queries,
        "build_s": round(build_s, 3), "open_s": round(open_s, 3), "disk_mb": round(disk / 2**20, 2),
        "exact": side(ms_exact), "store": side(ms_store),
        "exact_filtered": side(ms_exact_f), "store_filtered": side(ms_store_f),
        "lancedb_native": side(ms_native) | {"recall_at_10": round(_recall(got_native, want[:native_queries]), 4)},
        "recall_at_10": round(_recall(got, want), 4),
        "recall_at_10_filtered": round(_recall(got_f, want_f), 4),
    }
    result["p50_ratio"] = ratio(result["store"]["p50_ms"], result["exact"]["p50_ms"])
    result["p50_ratio_filtered"] = ratio(result["store_filtered"]["p50_ms"], result["exact_filtered"]["p50_ms"])
    result["native_p50_ratio"] = ratio(result["lancedb_native"]["p50_ms"], result["exact"]["p50_ms"])
    return result


def run(sizes: tuple[int, ...] = (1_000, 10_000, 100_000), queries: int = 200,
        progress: Callable[[str], None] = lambda message: None) -> dict:
    """Every size, plus the two headline figures: the lowest recall and the highest p50 ratio."""
    measure_size(50, queries=5, native_queries=1)  # the libraries' one-time set-up, not the first size's
    rows = []
    for n in sizes:
        progress(f"retrieval at {n:,} chunks")
        rows.append(measure_size(n, queries))
    lowest_recall = min(min(r["recall_at_10"], r["recall_at_10_filtered"]) for r in rows)
    highest_ratio = max(max(r["p50_ratio"], r["p50_ratio_filtered"]) for r in rows)
    return {
        "sizes": rows,
        "retrieval_recall_vs_exact": lowest_recall,
        "retrieval_p50_ratio_vs_exact": highest_ratio,
        "goals": {"recall_at_10": RECALL_GOAL, "p50_ratio": P50_RATIO_GOAL},
        "met": lowest_recall >= RECALL_GOAL and highest_ratio <= P50_RATIO_GOAL,
        "vectors": "synthetic: unit vectors around n/100 centres; queries near stored vectors",
    }
