"""Exact dense search in memory: one matrix product over every stored vector.

A portfolio site has hundreds of chunks, not millions. At that size a brute-force
product is exact (recall 1.0) and takes microseconds, while a database query pays a
fixed cost of milliseconds for planning and converting rows (measured with LanceDB:
about 6 ms at 1k chunks against 0.04 ms for NumPy). The embedded store therefore keeps
a read-only snapshot of its vectors here and answers dense queries from it; it stays the
durable copy and runs the full-text search.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.providers.base import Chunk, Hit


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` highest scores, best first."""
    if k <= 0 or scores.size == 0:
        return np.empty(0, dtype=np.intp)
    if k >= scores.size:
        return np.argsort(-scores, kind="stable")
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


class ExactIndex:
    """An immutable snapshot of chunks and their L2-normalised vectors; cosine scores."""

    def __init__(self, chunks: Sequence[Chunk], vectors: np.ndarray):
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or len(matrix) != len(chunks):
            raise ValueError(f"expected one vector per chunk ({len(chunks)}), got shape {matrix.shape}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self.matrix = matrix / norms
        self.chunks = list(chunks)
        self._type_codes = {t: i for i, t in enumerate(sorted({c.doc_type for c in self.chunks}))}
        self._codes = np.fromiter((self._type_codes[c.doc_type] for c in self.chunks), dtype=np.int32,
                                  count=len(self.chunks))
        self._rows_by_types: dict[tuple[str, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.chunks)

    def _rows(self, doc_types: Sequence[str]) -> np.ndarray:
        key = tuple(sorted(set(doc_types)))
        rows = self._rows_by_types.get(key)
        if rows is None:
            codes = [self._type_codes[t] for t in key if t in self._type_codes]
            rows = np.flatnonzero(np.isin(self._codes, codes))
            self._rows_by_types[key] = rows  # a handful of keys: the site's section types
        return rows

    def search(self, vector: np.ndarray, k: int, doc_types: Sequence[str] = ()) -> list[Hit]:
        """The `k` nearest chunks by cosine similarity, restricted to `doc_types` when given."""
        if not self.chunks:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        if norm:
            query = query / norm
        scores = self.matrix @ query
        if doc_types:
            rows = self._rows(doc_types)
            best = rows[top_k_indices(scores[rows], k)]
        else:
            best = top_k_indices(scores, k)
        # plain ints and floats first: indexing with NumPy scalars costs more than the search
        return [Hit(self.chunks[i], score) for i, score in zip(best.tolist(), scores[best].tolist())]
