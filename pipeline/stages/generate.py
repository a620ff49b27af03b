"""Generate: `Query` + `Plan` + `Retrieval` → the answer's text, and what kind of answer it is.

Reads: the plan's decisions, the retrieved passages, the visitor's language, what the LM can
do. A capable LM writes a grounded answer from the passages (delimited data, never
instructions). Otherwise the answer is extractive (`pipeline.compose`): the lines that answer
the question, framed in the visitor's language; "my site doesn't say that" only when no quoted
line answers and the passages are not close in meaning either (the multilingual embedder
decides across languages, not shared keywords alone).
Returns: (text, kind) — kind is fixed | lm | extractive | not_found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import dspy

from pipeline.compose import Composer, Facts
from pipeline.lang import Knowledge
from pipeline.params import ProgramParams
from pipeline.persona import Persona
from pipeline.providers.base import Hit, LMCapabilities
from pipeline.render import section_label
from pipeline.replies import Replies
from pipeline.signatures import MAX_TOKENS, FrameAnswer, GenerateAnswer
from pipeline.stages import Stage, call_lm
from pipeline.turn import Plan, Query, Retrieval


def format_passages(hits: Sequence[Hit]) -> str:
    """Numbered, delimited passages: the LM sees them as quoted data."""
    blocks = []
    for i, hit in enumerate(hits, start=1):
        c = hit.chunk
        blocks.append(f"[{i}] source: {c.source} | section: {c.title}\n<<<\n{c.text}\n>>>")
    return "\n\n".join(blocks)


class Generate(Stage):
    shared = ("knowledge", "persona", "replies", "capabilities", "composer", "site_language")

    def __init__(self, knowledge: Knowledge, persona: Persona, replies: Replies, capabilities: LMCapabilities,
                 site_language: str = "en"):
        super().__init__()
        self.site_language = site_language
        self.predict = dspy.Predict(GenerateAnswer, max_tokens=MAX_TOKENS["generate"])
        self.frame = dspy.Predict(FrameAnswer, max_tokens=MAX_TOKENS["frame"])
        self.knowledge = knowledge
        self.persona = persona
        self.replies = replies
        self.capabilities = capabilities
        self.composer = Composer(knowledge)

    def forward(self, query: Query, plan: Plan, retrieval: Retrieval, params: ProgramParams, trace) -> tuple[str, str]:
        language = query.language
        say = self.replies.say
        if not plan.relevant:
            return say("decline", language), "fixed"
        if not plan.needs_retrieval:
            return say(plan.label if plan.label in ("greeting", "thanks") else "identity", language), "fixed"
        hits = retrieval.hits
        if not hits:
            return say("not_found", language), "not_found"
        if self.capabilities.can_abstract and language in self.capabilities.languages:
            out = call_lm(
                self.predict, trace, passages=format_passages(hits),
                question=query.message if query.text == query.message else f"{query.message}\n(standalone: {query.text})",
                language=self.knowledge.pack(language).name,
                site_sections=", ".join(link.label for link in self.persona.site_map) or "(none)",
            )
            if out is not None and out.answer.strip():
                return out.answer.strip(), "lm"
        return self.extractive(query, retrieval, params, trace)

    # -- the extractive answer --------------------------------------------------------------

    def extractive(self, query: Query, retrieval: Retrieval, params: ProgramParams, trace) -> tuple[str, str]:
        language = query.language
        section = section_label(retrieval.hits[0].chunk.doc_type, self.persona.site_map)
        outro = self.replies.say("more_in", language, section=section) if section else ""
        intro_room = 120  # the longest frame sentence
        budget = min(params.fact_chars, params.max_answer_chars - intro_room - len(outro) - 2)
        facts = self.composer.facts(query.message, query.keyword_text, retrieval.hits, budget,
                                    passages=params.fact_passages, lines_top=params.fact_lines_top,
                                    lines_other=params.fact_lines_other, named=retrieval.named)
        close = retrieval.best >= params.found_min_similarity
        # asked for a field ("email") no passage states, and no quoted line shares the question's words:
        # closeness in meaning is not an answer then
        unanswered = facts.fields_missing and not facts.answers
        if not facts.lines or unanswered or self._lacks_personal_fact(query, retrieval) or not (facts.answers or close):
            return self.replies.say("not_found", language), "not_found"
        intro = self._intro(query, facts, params, trace)
        body = "\n".join(f"• {line}" for line in facts.lines)
        return "\n".join(part for part in (intro, body, outro) if part), "extractive"

    def _lacks_personal_fact(self, query: Query, retrieval: Retrieval) -> bool:
        """Asked for a personal fact ("phone number", 나이) that no retrieved passage mentions."""
        asked = {m.group(0).lower() for m in self.knowledge.personal_facts.finditer(query.message)}
        if not asked:
            return False
        return not any(word in hit.chunk.text.lower() for hit in retrieval.hits for word in asked)

    def _intro(self, query: Query, facts: Facts, params: ProgramParams, trace) -> str:
        language = query.language
        written_in = self.composer.language_of(facts)
        if facts.fields_missing:
            return self.replies.say("closest", language)
        if written_in != language:
            other = self.knowledge.language_name(written_in, language)
            # "my site is written in Korean" only when it is; a few entries in the other language are just that
            kind = "found_other_language" if written_in == self.site_language else "found_entries_other_language"
            return self.replies.say(kind, language, other=other)
        if params.lead_from_lm and language == "en" and language in self.capabilities.languages:
            out = call_lm(self.frame, trace, question=query.message, facts=facts.text)
            lead = safe_lead(out.lead, facts.lines, query.message) if out is not None else None
            if lead:
                return lead
        return self.replies.say("found", language)


# -- the local LM's framing sentence: kept only if it invents nothing ----------------------

_SENTENCE_WORDS = {"i", "i'm", "i've", "my", "the", "this", "here", "these", "it", "yes", "sure", "in", "at", "as"}


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def safe_lead(lead: str, facts: Sequence[str], question: str = "") -> str | None:
    """Keep an LM framing sentence only if it is short, is not a copy of the facts,
    and names no number or proper noun that the facts and question do not."""
    from pipeline.text import contains_korean

    lead = (lead or "").strip().split("\n")[0]
    words = lead.split()
    if not 4 <= len(words) <= 24 or len(lead) > 160 or contains_korean(lead):
        return None
    if re.search(r"[{}#<>_@|\[\]]", lead) or not re.match(r"(I|I'm|I've|My|Yes|No|Here|This|That)\b", lead):
        return None  # template debris, markup, or not a first-person framing
    if max(words.count(w) for w in words) > 2:
        return None  # a small model's loop
    known_text = " ".join([*facts, question])
    if "—" in lead or ";" in lead or _norm(lead) in _norm(known_text):
        return None  # a copied fact line, not a framing sentence
    if set(re.findall(r"\d+", lead)) - set(re.findall(r"\d+", known_text)):
        return None  # a small model invents dates; drop the sentence rather than the facts
    names = {w.rstrip(".") for w in re.findall(r"\b[A-Z][\w.-]+", lead) if w.lower() not in _SENTENCE_WORDS}
    if {n for n in names if n not in known_text}:
        return None
    return lead if lead.endswith((".", ":", "!")) else lead + ":"
