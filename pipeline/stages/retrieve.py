"""Retrieve: `Query` + `Plan` → `Retrieval`: hybrid (dense + keyword, fused) or dense, the plan's sections.

Reads: the query's vector and `keyword_text`, the plan's `k`, sections and filter mode, and the
program's parameters (mode, fusion weight, soft-filter weight) — per call, never stored on the
shared store. Returns: `Retrieval` with the ranked hits and the best dense similarity.

`hard` filtering keeps only the plan's sections (for a planner that can be trusted); `soft`
fuses the filtered and unfiltered rankings, so a wrong guess of the section costs rank, not
recall. A filter that finds nothing falls back to none. A question about the present ("now",
요즘) puts the entries marked current first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.corpus import slugify
from pipeline.lang import Knowledge
from pipeline.names import LazyNames, SiteNames
from pipeline.params import ProgramParams
from pipeline.providers.base import Hit, SearchIndex, SearchRequest
from pipeline.retrieval_fusion import reciprocal_rank_fusion
from pipeline.stages import Stage
from pipeline.text import keyword_fields, keyword_tokens

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
from pipeline.turn import Plan, Query, Retrieval

AGGREGATE_DOC_TYPES = frozenset({"cv"})  # pages that repeat entries of the other pages


# two chunks under one heading are one entry when this share of the shorter one's words is in both
SAME_ENTRY_OVERLAP = 0.6


def _same_entry(a: Hit, b: Hit) -> bool:
    words_a, words_b = set(keyword_tokens(a.chunk.text)), set(keyword_tokens(b.chunk.text))
    if not words_a or not words_b:
        return words_a == words_b
    return len(words_a & words_b) / min(len(words_a), len(words_b)) >= SAME_ENTRY_OVERLAP


def collapse_duplicates(hits: Sequence[Hit], k: int) -> list[Hit]:
    """One hit per entry: a full-CV page repeats the dedicated pages, so when two hits share a
    heading and most of their words, the dedicated page's chunk stands for both, at the better
    rank. Two entries that only share a heading ("Education" on the about page and on the CV,
    "Schedule" of two courses) are two entries."""
    groups: list[list[Hit]] = []
    for hit in hits:
        slug = slugify(hit.chunk.title)
        group = next((g for g in groups if slugify(g[0].chunk.title) == slug and _same_entry(g[0], hit)), None)
        if group is None:
            groups.append([hit])
        else:
            group.append(hit)
    out = []
    for group in groups:
        best = max(h.score for h in group)
        preferred = next((h for h in group if h.chunk.doc_type not in AGGREGATE_DOC_TYPES), group[0])
        out.append(Hit(preferred.chunk, best))
    return out[:k]


def soft_merge(filtered: list[Hit], unfiltered: list[Hit], depth: int, filter_weight: float = 1.0) -> list[Hit]:
    """Rank by fusing both lists (the filtered one weighted).

    Each hit is scored relative to the best fused score (1.0 for the first): the two lists'
    own scores are scaled over different candidate pools and, shown side by side, would
    not fall with the rank.
    """
    fused = reciprocal_rank_fusion([filtered, unfiltered], depth, weights=[filter_weight, 1.0])
    top = fused[0].score if fused else 1.0
    return [Hit(h.chunk, h.score / top) for h in fused]


class Retrieve(Stage):
    shared = ("store", "knowledge", "names")

    def __init__(self, store: SearchIndex, knowledge: Knowledge, names: LazyNames | None = None):
        super().__init__()
        self.store = store
        self.knowledge = knowledge
        self.names = names or LazyNames(lambda: SiteNames(()))

    def forward(self, query: Query, plan: Plan, params: ProgramParams) -> Retrieval:
        hits, filtered = self.search(query.keyword_text, query.vector, plan.k, plan.doc_types, plan.filter_mode,
                                     params)
        # the names the visitor used (not those of the earlier answer a follow-up carries)
        named = self.names.get().named(query.message)
        if hits:
            hits = self.answering_first(hits, query.message, named, query.keyword_text)
        return Retrieval(query.keyword_text, hits, self.best_similarity(query.vector), params.retrieval_mode, filtered,
                         named)

    def search(self, text: str, vector, k: int, doc_types: Sequence[str], filter_mode: str,
               params: ProgramParams) -> tuple[list[Hit], bool]:
        """Top-`k` hits, and whether the sections filter applied."""
        if k <= 0:
            return [], False
        depth = k * 2  # room for the duplicates that collapse away

        def ranked(types: Sequence[str]) -> list[Hit]:
            request = SearchRequest(vector, text, depth, tuple(types), params.retrieval_mode, params.hybrid_alpha)
            return self.store.search(request)

        unfiltered = ranked(())
        if doc_types:
            filtered = ranked(doc_types)
            if filtered:
                # one entry, one id, before fusing: a full-CV copy in one list and the dedicated
                # page in the other are the same evidence and must add up
                filtered, unfiltered = collapse_duplicates(filtered, depth), collapse_duplicates(unfiltered, depth)
                hits = filtered if filter_mode == "hard" else soft_merge(filtered, unfiltered, depth,
                                                                         params.section_filter_weight)
                return collapse_duplicates(hits, k), True
        return collapse_duplicates(unfiltered, k), False

    def answering_first(self, hits: list[Hit], message: str, named: frozenset[str] = frozenset(),
                        text: str = "") -> list[Hit]:
        """Entries that state what the question asks for ahead of the rest, each group in rank order.

        A question that names an entry of the site ("the SonoGlance study") puts first the entries
        holding most of it, the names in their title counting twice: the paper titled "SonoGlance: …"
        before a blog post that mentions it in passing; an entry that holds all the other words
        ("hardware revisions" of a named device) still before one that only has the name in its title.
        Then a field it asks for by name ("Who was your advisor?" → the entry with an `Advisor:` line),
        and for a question about the present ("now", 요즘), an entry marked current ("Present", 현재)."""
        k = self.knowledge
        # only a question about nothing but the field ("Who was your advisor?"): one that names its
        # subject too ("your undergraduate thesis") is answered by the entry retrieval found for it
        fields = set(k.asked_fields(message)) if not self._subject_words(message) else set()
        now = k.asks_now(message)
        words = set(keyword_fields(text or message)[0]) - k.stopwords if named else set()

        def misses(hit: Hit) -> int:
            text = hit.chunk.text
            states = bool(fields) and any(k.field_of(line) in fields for line in text.splitlines())
            current = now and bool(k.current_markers.search(f"{hit.chunk.title}\n{text}"))
            return -(2 * states + current)

        def uncovered(hit: Hit) -> int:
            chunk = hit.chunk
            return -SiteNames.coverage(f"{chunk.page_title}\n{chunk.title}", chunk.text, words, named) if named else 0

        return sorted(hits, key=lambda h: (uncovered(h), misses(h))) if fields or now or named else hits

    def _subject_words(self, message: str) -> set[str]:
        """The message's words that are neither the asked field, nor question words, nor grammar
        (a Korean word counts without the particle or ending attached to a stop word: 누구세요 → 누구)."""
        k = self.knowledge
        asked = [k.asked_phrase(message, kind) for kind in k.asked_fields(message)]
        words, _ = keyword_fields(message)
        korean_stops = [w for w in k.stopwords if len(w) >= 2 and _HANGUL.match(w)]

        def subject(word: str) -> bool:
            if word in k.stopwords or word in k.field_words or any(a and a.lower() in word for a in asked):
                return False
            return not (_HANGUL.match(word) and any(word.startswith(stop) for stop in korean_stops))

        return {w for w in words if subject(w)} - set(keyword_tokens(" ".join(asked)))

    def best_similarity(self, vector) -> float:
        top = self.store.dense_search(vector, 1)
        return top[0].score if top else 0.0
