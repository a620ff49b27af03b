"""The one contract between the stages: what each reads and returns, and the one way out (`to_json`).

    message + history ─ rewrite ─► Query ─ plan ─► Plan ─ retrieve ─► Retrieval ─ generate ─► Answer

Everything a caller needs (service, CLI, evaluation, traces) is on `Answer`; they serialise
it with `Answer.to_json()`, never by picking attributes of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pipeline.providers.base import Hit
from pipeline.render import to_plain_text

# the product's limits, written once
MAX_ANSWER_CHARS = 500


@dataclass(frozen=True)
class Query:
    """What the visitor asked, made standalone, and what is searched for it."""

    message: str  # the visitor's own words
    language: str  # the visitor's language (en | ko)
    text: str  # standalone: the message, or the message with the conversation's subject carried along
    search_text: str = ""  # what is embedded: `text` + the glossary's English terms, bounded
    keyword_text: str = ""  # what is keyword-searched: `text` + every glossary term (either language)
    cue_text: str = ""  # what the section cues are read from: the visitor's words, never an answer
    follow_up: bool = False
    context: str = ""  # what was carried from the conversation ("" when standalone)
    rewritten_by_lm: bool = False
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)

    def with_vector(self, vector: np.ndarray) -> Query:
        return replace(self, vector=vector)

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "language": self.language, "text": self.text,
                "search_text": self.search_text, "keyword_text": self.keyword_text, "follow_up": self.follow_up, "context": self.context,
                "rewritten_by_lm": self.rewritten_by_lm}


@dataclass
class Plan:
    relevant: bool
    needs_retrieval: bool
    doc_types: list[str]
    k: int
    label: str  # the signal planner's label: greeting, identity, off_topic, injection, owner, unknown
    lm_used: bool = False

    @property
    def filter_mode(self) -> str:
        """Sections chosen by a capable LM filter hard; guessed from cue words, softly."""
        return "hard" if self.lm_used else "soft"

    def to_json(self) -> dict[str, Any]:
        return {"relevant": self.relevant, "needs_retrieval": self.needs_retrieval, "doc_types": self.doc_types,
                "k": self.k, "label": self.label, "lm_used": self.lm_used}


@dataclass(frozen=True)
class Source:
    id: str
    source: str
    title: str
    doc_type: str
    score: float
    anchor: str = ""
    url: str = ""  # the site page it is read on ("" when the layout cannot tell)
    page: str = ""  # that page's title

    @classmethod
    def of(cls, hit: Hit) -> Source:
        c = hit.chunk
        # plain text: a widget may put titles into the page as HTML
        return cls(c.id, c.source, to_plain_text(c.title), c.doc_type, hit.score, c.anchor, c.url,
                   to_plain_text(c.page_title.split(" / ")[0]))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "title": self.title, "doc_type": self.doc_type,
                "score": round(self.score, 4), "anchor": self.anchor, "url": self.url, "page": self.page}


@dataclass
class Retrieval:
    """What was searched, how, and what came back."""

    search_query: str = ""
    hits: list[Hit] = field(default_factory=list)
    best: float = 0.0  # best dense cosine similarity over the whole index: the relevance signal
    mode: str = ""  # hybrid | dense ("" when nothing was searched)
    filtered: bool = False  # the plan's sections were applied (no fallback)
    named: frozenset[str] = frozenset()  # the site's names the question uses (`pipeline.names`)

    @property
    def sources(self) -> list[Source]:
        return [Source.of(h) for h in self.hits]

    def to_json(self) -> dict[str, Any]:
        return {"search_query": self.search_query, "mode": self.mode, "filtered": self.filtered,
                "best_similarity": round(float(self.best), 4), "sources": [s.to_json() for s in self.sources]}


@dataclass
class StageRecord:
    """One stage's real inputs and outputs, as the stage saw them (for traces)."""

    name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: Any = None
    ms: float = 0.0


#: Whoever runs the program may watch its stages (the service: tracing spans, and stopping work
#: at a stage boundary once the visitor has gone): a callable taking the stage's record and
#: returning a context manager entered around that stage, passed to the program's call.
StageObserver = Callable[[StageRecord], AbstractContextManager]


@dataclass
class Trace:
    """Per-request bookkeeping: each stage's record and time, LM usage."""

    stages: list[StageRecord] = field(default_factory=list)
    lm_calls: int = 0
    lm_fallbacks: int = 0
    lm_tokens: int = 0
    lm_until: float | None = None  # time.monotonic() after which no LM call may start (None: no limit)
    observer: StageObserver | None = field(default=None, repr=False, compare=False)

    @property
    def timings_ms(self) -> dict[str, float]:
        return {s.name: s.ms for s in self.stages}

    @contextmanager
    def stage(self, name: str, **inputs):
        record = StageRecord(name, inputs)
        self.stages.append(record)
        observer = self.observer
        started = time.perf_counter()
        try:
            if observer is None:
                yield record
            else:
                with observer(record):
                    yield record
        finally:
            record.ms = round((time.perf_counter() - started) * 1000, 2)

    def to_json(self) -> dict[str, Any]:
        return {"timings_ms": self.timings_ms, "lm_calls": self.lm_calls, "lm_fallbacks": self.lm_fallbacks,
                "lm_tokens": self.lm_tokens}


@dataclass
class Answer:
    """The result of one turn: what the page shows, and how it came about."""

    html: str  # what the page renders: escaped text, site-map labels as the only anchors
    text: str  # the same answer as plain text
    query: Query
    plan: Plan | None = None
    retrieval: Retrieval = field(default_factory=Retrieval)
    trace: Trace = field(default_factory=Trace)
    kind: str = "extractive"  # fixed | extractive | not_found | lm | unavailable
    degraded: str | None = None  # "retrieval" when the site's content could not be searched

    @property
    def language(self) -> str:
        return self.query.language

    @property
    def sources(self) -> list[Source]:
        return self.retrieval.sources

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """The service's body (`full=False`), or everything (CLI --json, evaluation records, traces)."""
        public = {"response": self.html, "sources": [s.to_json() for s in self.sources],
                  "language": self.language, "degraded": self.degraded}
        if not full:
            return public
        return {**public, "text": self.text, "kind": self.kind, "query": self.query.to_json(),
                "plan": self.plan.to_json() if self.plan else None, "retrieval": self.retrieval.to_json(),
                **self.trace.to_json()}


def total_tokens(usage: dict | None) -> int:
    """Prompt + completion tokens over every model in a DSPy usage summary."""
    total = 0
    for per_model in (usage or {}).values():
        prompt = per_model.get("prompt_tokens") or per_model.get("input_tokens") or 0
        completion = per_model.get("completion_tokens") or per_model.get("output_tokens") or 0
        total += int(prompt) + int(completion)
    return total
