"""Embeddings an evaluation computes, cached on disk beside the scores (`RAG_CACHE_DIR`).

An unchanged re-run of `workbench eval` finds its LM calls in DSPy's cache and its scores in
`scores.json`; what it still computed every time were the embeddings: the program's query
vectors (one or two per question) and, for answers that changed, the semantic-similarity
metric's reference and response vectors. `CachingEmbedder` wraps an embedder and keeps each
vector in a small SQLite file keyed by the embedder's name, the kind of text (query or
passage: e5 embeds them with different prefixes) and the text itself, so a second run reads
them back (byte for byte the vectors the embedder returned: same dtype, same values).

The evaluation hands the wrapper to the program through its public `embedder` attribute for
the run and puts the original back afterwards (`evals.runner.evaluate`); `--no-cache` passes
no cache file and nothing is wrapped.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FILE_NAME = "embeddings.sqlite"


class EmbeddingCache:
    """(embedder name, kind, text) → vector, in one SQLite file shared by concurrent runs.

    Lookups read the file; new vectors are buffered and written by `flush()` (one
    transaction), so a run pays one commit, not one per question."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dtype TEXT NOT NULL, "
                         "vector BLOB NOT NULL)")
        self._pending: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0

    @staticmethod
    def key(embedder: str, kind: str, text: str) -> str:
        return hashlib.sha256("\x1f".join((embedder, kind, text)).encode("utf-8")).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            wanted = []
            for key in keys:
                if key in self._pending:
                    found[key] = self._pending[key]
                else:
                    wanted.append(key)
            for start in range(0, len(wanted), 500):
                batch = wanted[start:start + 500]
                rows = self._db.execute(f"SELECT key, dtype, vector FROM vectors WHERE key IN "
                                        f"({','.join('?' * len(batch))})", batch).fetchall()
                for key, dtype, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.dtype(dtype)).copy()
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._pending.update(items)

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            rows = [(key, vector.dtype.str, np.ascontiguousarray(vector).tobytes())
                    for key, vector in self._pending.items()]
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors (key, dtype, vector) VALUES (?, ?, ?)", rows)
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()


class CachingEmbedder:
    """An embedder that asks `cache` first. Same `name` and `dim` as the one it wraps (an
    index check or a score key sees no difference); anything else is the inner one's."""

    def __init__(self, inner, cache: EmbeddingCache):
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.dim = inner.dim

    def __getattr__(self, attribute):  # e.g. a provider's own helpers
        if attribute in ("inner", "cache"):  # not set yet (a copy being built): no recursion
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("query", texts, self.inner.embed_queries)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("passage", texts, self.inner.embed_passages)

    def _embed(self, kind: str, texts: Sequence[str], compute) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return compute(texts)
        keys = [EmbeddingCache.key(self.name, kind, t) for t in texts]
        found = self.cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        self.cache.hits += len(texts) - len(missing)
        self.cache.misses += len(missing)
        if missing:
            computed = compute([texts[i] for i in missing])
            fresh = {keys[i]: np.asarray(computed[j]) for j, i in enumerate(missing)}
            self.cache.put_many(fresh)
            found.update(fresh)
        return np.stack([found[key] for key in keys])
