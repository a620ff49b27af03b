"""Cheap, bilingual planning signals that do not depend on the LM.

A multilingual embedder places a visitor's message near labelled exemplars (greetings,
identity questions, off-topic requests, injection attempts, ordinary questions about the
owner) in either language; the language packs' patterns catch injection phrasing and their
cues pick the site sections. The plan stage blends these signals with the LM's own plan,
weighted by how far the LM can be trusted (`LMCapabilities.can_plan`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.lang import Knowledge
from pipeline.params import PlannerParams
from pipeline.providers.base import Embedder


@dataclass
class Signals:
    """What the cheap signals say about one message."""

    label: str
    similarity: dict[str, float]
    injection_pattern: bool
    doc_types: list[str] = field(default_factory=list)

    def vote(self) -> tuple[bool | None, bool]:
        """(relevant, needs_retrieval); relevant None = undecided until retrieval."""
        if self.injection_pattern or self.label == "injection":
            return False, False
        if self.label in ("greeting", "thanks", "identity"):
            return True, False
        if self.label == "off_topic":
            return False, False
        if self.label == "owner" or self.doc_types:
            return True, True
        return None, True


class SignalPlanner:
    """Embeds the packs' exemplars once; labels a message by its nearest labelled exemplar."""

    def __init__(self, embedder: Embedder, knowledge: Knowledge, cache_dir: Path | None = None):
        self.embedder = embedder
        self.knowledge = knowledge
        self.cache_dir = cache_dir
        self._labels: list[str] = []
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> np.ndarray:
        """The exemplars' vectors (embedded on first use: start-up cost, not import cost)."""
        if self._matrix is None:
            with self._lock:
                if self._matrix is None:
                    labels, texts = [], []
                    for label, examples in self.knowledge.exemplars.items():
                        texts.extend(examples)
                        labels.extend([label] * len(examples))
                    self._labels = labels
                    self._matrix = self._embed(texts, self.cache_dir)
        return self._matrix

    def _embed(self, texts: list[str], cache_dir: Path | None) -> np.ndarray:
        """Exemplar vectors, cached on disk per embedder and exemplar set (start-up cost)."""
        if not texts:
            return np.zeros((0, self.embedder.dim), np.float32)
        path = None
        if cache_dir is not None:
            digest = hashlib.sha1(json.dumps([self.embedder.name, texts], ensure_ascii=False).encode()).hexdigest()
            path = Path(cache_dir) / f"exemplars-{digest[:16]}.npy"
            if path.exists():
                try:
                    return np.load(path)
                except (OSError, ValueError):
                    pass
        matrix = self.embedder.embed_queries(texts)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, matrix)
            except OSError:
                pass  # a read-only cache only costs start-up time
        return matrix

    def similarities(self, vector: np.ndarray) -> dict[str, float]:
        sims = self.warm_up() @ np.asarray(vector, dtype=np.float32)
        best: dict[str, float] = {}
        for label, sim in zip(self._labels, sims.tolist()):
            best[label] = max(best.get(label, -1.0), sim)
        return best

    @staticmethod
    def label_for(sims: dict[str, float], p: PlannerParams) -> str:
        owner = sims.get("owner", -1.0)
        thresholds = {
            "injection": p.injection_min_sim,
            "greeting": p.greeting_min_sim,
            "thanks": p.greeting_min_sim,
            "identity": p.identity_min_sim,
            "off_topic": p.off_topic_min_sim,
        }
        candidates = [
            (sims[label], label)
            for label, minimum in thresholds.items()
            if label in sims and sims[label] >= minimum and sims[label] >= owner + p.label_margin
        ]
        if candidates:
            return max(candidates)[1]
        return "owner" if owner >= max(thresholds.values()) - p.owner_margin else "unknown"

    def label(self, vector: np.ndarray, p: PlannerParams, text: str = "") -> str:
        return self.asks_about_entries(self.label_for(self.similarities(vector), p), text)

    def asks_about_entries(self, label: str, text: str) -> str:
        """A short message can sit near the chat's own exemplars ("팀은 몇 명이었어요?" near "넌 누구야?")
        while naming a kind of entry of the site (a team, a degree, an award): then it is about the
        owner. The about-page cues ("yourself", "background") do not count: "Introduce yourself"
        asks who the twin is."""
        if label in ("identity", "greeting", "thanks") and set(self.knowledge.doc_types_for(text)) - {"about"}:
            return "owner"
        return label

    def signals(self, message: str, vector: np.ndarray, cue_text: str, p: PlannerParams) -> Signals:
        """Patterns read the visitor's own `message`; cues read `cue_text`; `vector` is the query's."""
        sims = self.similarities(vector)
        return Signals(
            label=self.asks_about_entries(self.label_for(sims, p), message),
            similarity=sims,
            injection_pattern=self.knowledge.is_injection(message),
            doc_types=self.knowledge.doc_types_for(cue_text),
        )


def blend(signal_vote: bool | None, lm_vote: bool | None, lm_weight: float) -> bool | None:
    """Weighted vote of two judgements; None means 'no opinion'."""
    if lm_vote is None or lm_weight <= 0:
        return signal_vote
    if signal_vote is None or lm_weight >= 1:
        return lm_vote
    score = lm_weight * float(lm_vote) + (1 - lm_weight) * float(signal_vote)
    return score >= 0.5


def known_doc_types(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    available_set = set(available)
    return [d for d in dict.fromkeys(requested) if d in available_set]
