"""Extractive answers: the asked fact first, quoted from the passages, framed in the visitor's language.

Used whenever the LM cannot write a grounded answer itself (the embedded SmolLM2 cannot).
A line answers the question when it states a field the question asks for ("Who is your
advisor?" → "Advisor: …"), or shares words with the question's search text — which carries
the glossary's English terms for Korean words, so a Korean question over an English page
still finds its words. Lines are quoted whole: the answer ends on a field or a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.lang import Knowledge, abbreviation_pattern
from pipeline.providers.base import Hit
from pipeline.text import keyword_fields, keyword_tokens

_LINE_SPLIT = re.compile(r"\n+")
# sentence ends in both languages: ". ", "다. ", "? ", "! ", "。"
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+(?=\S)")
_ABBREVIATION = abbreviation_pattern()
# "Key: value" — a field line is one fact, quoted whole
_FIELD_LINE = re.compile(r"^\W*[^\W\d][\w .()/&'-]{0,40}[:：]\s")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")
SEPARATOR = "; "
MAX_LIST_ENTRIES = 5


@dataclass
class Facts:
    """Quoted lines for one question, and whether they answer it."""

    lines: list[str]
    answers: bool  # a line states an asked field, or shares the question's words
    fields_missing: bool = False  # the question asks for a field no quoted passage states

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def sentences(line: str, abbreviations: re.Pattern = _ABBREVIATION) -> list[str]:
    """A prose line's sentences; abbreviations ("Prof.", "Ph.D.") and numbers after a dot do not end one."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(line):
        if out and (abbreviations.search(out[-1]) or not (piece[:1].isupper() or piece[:1] in "\"“(" or
                                                          re.match(r"[\uac00-\ud7a3]", piece[:1]))):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def _units(text: str, abbreviations: re.Pattern = _ABBREVIATION) -> list[str]:
    """A passage as quotable units: each field line whole, prose lines split into sentences."""
    units = []
    for line in (_BULLET.sub("", ln).strip() for ln in _LINE_SPLIT.split(text)):
        if line:
            units.extend([line] if _FIELD_LINE.match(line) else sentences(line, abbreviations))
    return units


def _fit(text: str, room: int) -> str | None:
    """`text` whole if it fits; else its leading sentences or clauses that do; None if nothing does."""
    if len(text) <= room:
        return text
    for split in (sentences, re.compile(r"(?<=[;,])\s+").split):
        pieces = split(text)
        kept = ""
        for piece in pieces:
            candidate = f"{kept} {piece}".strip() if kept else piece
            if len(candidate) > room:
                break
            kept = candidate
        if kept and len(kept) >= room * 0.4:
            return kept.rstrip(",;")
    return None


class Composer:
    """Chooses and orders the lines of the top passages for a question."""

    def __init__(self, knowledge: Knowledge):
        self.knowledge = knowledge

    def _wanted(self, search_text: str) -> set[str]:
        """The question's content words; field labels ("type", "date") say nothing about its subject."""
        return set(keyword_tokens(search_text)) - self.knowledge.stopwords - self.knowledge.field_words

    def _score(self, unit: str, wanted: set[str], fields: list[str], now: bool) -> tuple[int, int]:
        k = self.knowledge
        field = k.field_of(unit)
        # a line naming the asked field ("Date: …") first, then one holding such a value ("Mar. 2023"); a
        # compound question ("when and where…") prefers the line that holds both parts
        named = {field} & set(fields) if field is not None else set()
        asked = 2 * len(named) + len((k.shaped_as(unit) & set(fields)) - named) if fields else 0
        current = 1 if now and k.current_markers.search(unit) else 0
        return asked + current, len(wanted & set(keyword_tokens(unit)))

    def facts(self, message: str, search_text: str, hits: Sequence[Hit], limit: int, *, passages: int = 3,
              lines_top: int = 3, lines_other: int = 1, named: frozenset[str] = frozenset()) -> Facts:
        """The top passage's heading and its `lines_top` best units; one passage from another
        file adds `lines_other` units when room remains (what multi-hop questions need).

        An asked field no passage states is "missing" (the answer then says it quotes the closest
        thing) only when no quoted line names what the question names either: "What did you do as
        a TA for CS 3750?" quoted from the CS 3750 entry is that answer, with or without a `Role:`."""
        k = self.knowledge
        wanted = self._wanted(search_text)
        fields = k.asked_fields(message)
        now = k.asks_now(message)
        if k.asks_list(message) and len(hits) > 1:
            # "Which awards did TACTIMO win?": a named qualifier keeps only the entries that hold the name
            qualified = [h for h in hits if named & set(keyword_fields(f"{h.chunk.title}\n{h.chunk.text}")[0])]
            return self._entries(qualified or hits, wanted, fields, now, limit, self.knowledge.detect(message))
        lines: list[str] = []
        used = 0
        answers = False
        stated: set[str] = set()
        seen_sources: set[str] = set()
        for rank, hit in enumerate(hits[: max(1, passages)]):
            if rank > 0 and (lines_other <= 0 or hit.chunk.source in seen_sources or used > limit * 0.6):
                continue
            units = [u for u in _units(hit.chunk.text, k.abbreviations) if u != hit.chunk.title]
            scored = {i: self._score(u, wanted, fields, now) for i, u in enumerate(units)}
            stated.update(f for f in (k.field_of(u) for u in units) if f)
            best = sorted(scored, key=lambda i: (-scored[i][0], -scored[i][1], i))
            keep = best[: max(1, lines_top) if rank == 0 else lines_other]
            if rank > 0 and not self._adds(hits[0], hit, [scored[i] for i in keep], len(wanted)):
                continue  # another file's passage is quoted only when it answers too
            # the asked fields first, then the rest in the page's own order
            keep.sort(key=lambda i: (-scored[i][0], i))
            answers = answers or any(scored[i][0] >= 2 or scored[i][1] > 0 for i in keep)
            answers = answers or bool(wanted & set(keyword_tokens(hit.chunk.title)))
            room = limit - used - len(hit.chunk.title) - 3
            quoted: list[str] = []
            for i in keep:
                piece = _fit(units[i], room - len(SEPARATOR) * len(quoted))
                if piece is None:
                    continue
                quoted.append(piece)
                room -= len(piece)
            if not quoted and rank > 0:
                continue
            text = f"{hit.chunk.title} — {SEPARATOR.join(quoted)}" if quoted else hit.chunk.title
            if len(text) > limit - used:
                break
            lines.append(text)
            used += len(text)
            seen_sources.add(hit.chunk.source)
        # a quoted line (or its entry's title: "Research Intern, Northwind Weather Service") holding a
        # value of the asked kind states it, named or not
        stated.update(kind for line in lines for kind in k.shaped_as(line))
        missing = bool(fields) and not (set(fields) & stated)
        if missing and named:
            missing = not any(named & set(keyword_fields(line)[0]) for line in lines)
        return Facts(lines, answers, missing)

    @staticmethod
    def _adds(top: Hit, hit: Hit, scores: list[tuple[int, int]], wanted: int) -> bool:
        """A lower passage earns a line when it ranks close to the top one and answers by itself."""
        if top.score > 0 and hit.score < 0.5 * top.score:
            return False
        return any(asked >= 2 or overlap >= min(2, max(1, wanted)) for asked, overlap in scores)

    def _entries(self, hits: Sequence[Hit], wanted: set[str], fields: list[str], now: bool, limit: int,
                 language: str) -> Facts:
        """"What awards have you won?": several entries, each its heading and its best field."""
        lines: list[str] = []
        used = 0
        section = hits[0].chunk.doc_type  # entries of one kind: the top hit's section
        # the visitor's own language first: a list of a mostly English site's papers for an English
        # visitor should not open with its two Korean ones (each group keeps its rank order)
        hits = sorted((h for h in hits if h.chunk.doc_type == section),
                      key=lambda h: self.knowledge.detect(h.chunk.title) != language)
        for hit in hits[:MAX_LIST_ENTRIES]:
            units = [u for u in _units(hit.chunk.text, self.knowledge.abbreviations)
                     if u != hit.chunk.title and _FIELD_LINE.match(u)]
            scored = sorted(units, key=lambda u: tuple(-x for x in self._score(u, wanted, fields, now)))
            line = hit.chunk.title
            if scored and len(line) + len(scored[0]) + 3 <= 160:
                line = f"{line} — {scored[0]}"
            if used + len(line) > limit:
                break
            lines.append(line)
            used += len(line)
        answers = any(wanted & set(keyword_tokens(h.chunk.title + " " + h.chunk.text)) for h in hits[:MAX_LIST_ENTRIES])
        return Facts(lines, answers or bool(lines), False)

    def language_of(self, facts: Facts) -> str:
        """The language the quoted facts open in (what the frame sentence introduces)."""
        return self.knowledge.detect(facts.lines[0]) if facts.lines else "en"
