"""Reciprocal rank fusion: merge ranked lists without calibrating their scores."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.providers.base import Chunk, Hit

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int, rrf_k: int = RRF_K,
                           weights: Sequence[float] | None = None) -> list[Hit]:
    """Fuse rankings (best first) into the top `k` hits scored by sum(weight / (rrf_k + rank))."""
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + weight / (rrf_k + rank)
            chunks.setdefault(hit.chunk.id, hit.chunk)
    ordered = sorted(scores, key=lambda cid: (-scores[cid], cid))
    return [Hit(chunks[cid], scores[cid]) for cid in ordered[:k]]


def convex_fusion(dense: Sequence[Hit], keyword: Sequence[Hit], k: int, alpha: float) -> list[Hit]:
    """alpha · dense + (1 − alpha) · keyword, each scaled to [0, 1] over its candidates.

    Unlike rank fusion this keeps magnitudes: a keyword hit on a rare proper
    name, far above the other keyword scores, is not flattened to "rank 1".
    """
    def scaled(hits: Sequence[Hit], floor_at_min: bool) -> dict[str, float]:
        if not hits:
            return {}
        scores = [h.score for h in hits]
        top, low = max(scores), (min(scores) if floor_at_min else 0.0)
        span = (top - low) or 1.0
        return {h.chunk.id: (h.score - low) / span for h in hits}

    d, w = scaled(dense, True), scaled(keyword, False)
    chunks = {h.chunk.id: h.chunk for h in [*dense, *keyword]}
    fused = {cid: alpha * d.get(cid, 0.0) + (1 - alpha) * w.get(cid, 0.0) for cid in chunks}
    ordered = sorted(fused, key=lambda cid: (-fused[cid], cid))
    return [Hit(chunks[cid], fused[cid]) for cid in ordered[:k]]
