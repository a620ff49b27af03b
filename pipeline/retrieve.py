"""Retrieval with the plan's filters: hybrid (dense + keyword, fused) or dense only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from pipeline.corpus import slugify
from pipeline.providers.base import Hit, SearchRequest, VectorStore
from pipeline.retrieval_fusion import reciprocal_rank_fusion


@dataclass
class Retrieved:
    hits: list[Hit]
    best_similarity: float  # best dense cosine similarity, the relevance signal
    filtered: bool  # the plan's doc-type filter was applied (no fallback)
    doc_types: list[str] = field(default_factory=list)


AGGREGATE_DOC_TYPES = frozenset({"cv"})  # pages that repeat entries of the other pages


def collapse_duplicates(hits: Sequence[Hit], k: int) -> list[Hit]:
    """One hit per entry: a full-CV page repeats the dedicated pages, so when two hits
    share a heading the dedicated page's chunk stands for both, at the better rank."""
    groups: dict[str, list[Hit]] = {}
    order: list[str] = []
    for hit in hits:
        key = slugify(hit.chunk.title)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(hit)
    out = []
    for key in order:
        group = groups[key]
        best = max(h.score for h in group)
        preferred = next((h for h in group if h.chunk.doc_type not in AGGREGATE_DOC_TYPES), group[0])
        out.append(Hit(preferred.chunk, best))
    return out[:k]


def _soft_merge(filtered: list[Hit], unfiltered: list[Hit], depth: int, filter_weight: float = 1.0) -> list[Hit]:
    """Rank by fusing both lists (the filtered one weighted).

    Each hit is scored relative to the best fused score (1.0 for the first): the two lists'
    own scores are scaled over different candidate pools and, shown side by side, would
    not fall with the rank.
    """
    fused = reciprocal_rank_fusion([filtered, unfiltered], depth, weights=[filter_weight, 1.0])
    top = fused[0].score if fused else 1.0
    return [Hit(h.chunk, h.score / top) for h in fused]


class Retriever:
    """`hard` filtering keeps only the plan's sections (for a planner that can be trusted);
    `soft` fuses the filtered and unfiltered rankings, so a wrong guess of the section
    costs rank, not recall."""

    def __init__(self, store: VectorStore, mode: str = "hybrid", alpha: float = 0.6, filter_weight: float = 1.0):
        self.store = store
        self.mode = mode
        self.alpha = alpha
        self.filter_weight = filter_weight  # soft mode: the filtered ranking's weight against the unfiltered one

    def __call__(
        self, query: str, vector: np.ndarray, k: int, doc_types: Sequence[str] = (), filter_mode: str = "hard"
    ) -> Retrieved:
        """Top-`k` hits; a filtered search that finds nothing falls back to no filter."""
        if k <= 0:
            return Retrieved([], 0.0, False)
        depth = k * 2  # room for the duplicates that collapse away
        unfiltered = self.store.search(SearchRequest(vector, query, depth, (), self.mode, self.alpha))
        best = self._best_similarity(vector)
        if doc_types:
            filtered = self.store.search(SearchRequest(vector, query, depth, tuple(doc_types), self.mode, self.alpha))
            if filtered:
                # one entry, one id, before fusing: a full-CV copy in one list and the dedicated
                # page in the other are the same evidence and must add up
                filtered, unfiltered = collapse_duplicates(filtered, depth), collapse_duplicates(unfiltered, depth)
                hits = filtered if filter_mode == "hard" else _soft_merge(filtered, unfiltered, depth, self.filter_weight)
                return Retrieved(collapse_duplicates(hits, k), best, True, list(doc_types))
        return Retrieved(collapse_duplicates(unfiltered, k), best, False)

    def _best_similarity(self, vector: np.ndarray) -> float:
        dense = getattr(self.store, "dense_search", None)
        if dense is None:
            return 0.0
        top = dense(vector, 1)
        return top[0].score if top else 0.0
