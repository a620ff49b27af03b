"""Plan: a `Query` (with its vector) → `Plan`: about the owner? retrieve? which sections? how many?

Reads: the visitor's message (injection patterns, personal-fact words), the query's vector
(nearest labelled exemplars), `cue_text` (section cues), and — with an LM that can plan — the
LM's judgement, blended in by the weight the LM's capabilities earn.
Returns: `Plan`. "Undecided" (no label, no cue) is settled by retrieval's best similarity.
"""

from __future__ import annotations

import re

import dspy

from pipeline.lang import Knowledge
from pipeline.names import LazyNames, SiteNames
from pipeline.params import ProgramParams
from pipeline.persona import Persona
from pipeline.providers.base import LMCapabilities
from pipeline.signals import SignalPlanner, blend, known_doc_types
from pipeline.signatures import MAX_TOKENS, PlanQuery
from pipeline.stages import Stage, call_lm
from pipeline.text import keyword_fields
from pipeline.turn import Plan, Query

_QUOTED = re.compile(r"'[^']{2,}'|\"[^\"]{2,}\"|“[^”]+”|‘[^’]{2,}’|「[^」]+」")


class PlanStage(Stage):
    shared = ("signals", "knowledge", "persona", "capabilities", "doc_types", "names")

    def __init__(self, signals: SignalPlanner, knowledge: Knowledge, persona: Persona,
                 capabilities: LMCapabilities, doc_types: list[str], names: LazyNames | None = None):
        super().__init__()
        self.names = names or LazyNames(lambda: SiteNames(()))
        self.predict = dspy.Predict(PlanQuery, max_tokens=MAX_TOKENS["plan"])
        self.signals = signals
        self.knowledge = knowledge
        self.persona = persona
        self.capabilities = capabilities
        self.doc_types = doc_types

    def lm_weight(self, params: ProgramParams) -> float:
        p = params.planner
        return p.lm_weight_capable if self.capabilities.can_plan else p.lm_weight_local

    def mentions_owner(self, message: str) -> bool:
        """A word pointing at the owner ("your", "her", 교수님), the owner's name, or a name of the
        site's entries: the message is about the owner, however far it sits from the exemplars."""
        if self.knowledge.refers_to_owner(message):
            return True
        owner = {w for w in keyword_fields(f"{self.persona.name} {self.persona.native_name}")[0] if len(w) > 1}
        words = set(keyword_fields(message)[0])
        if owner & words or any(w.startswith(tuple(owner)) for w in words if owner):
            return True
        return bool(self.names.get().named(message))

    def asks_for_work(self, message: str) -> bool:
        """A request for the assistant to do work ("Draft a cover letter for me") that is not about the owner."""
        # what is quoted is the material to work on ("Translate 'good luck with your exam'"), not its subject
        message = _QUOTED.sub(" ", message)
        return self.knowledge.requests_work(message) and not self.mentions_owner(message)

    def forward(self, query: Query, params: ProgramParams, trace) -> Plan:
        p = params.planner
        assert query.vector is not None  # the program embeds the query before it plans
        signals = self.signals.signals(query.message, query.vector, query.cue_text, p)
        relevant, needs_retrieval = signals.vote()
        label = "injection" if signals.injection_pattern else signals.label
        work = label != "injection" and self.asks_for_work(query.message)
        if work:
            # decided by what the message asks, not by how close it is to the packs' examples (nor by an LM)
            label, relevant, needs_retrieval = "off_topic", False, False
        if self.knowledge.personal_facts.search(query.message) and label in ("identity", "unknown"):
            # "How old are you?" is about the owner: the site may simply not say (generate decides)
            label, relevant, needs_retrieval = "owner", True, True
        doc_types = signals.doc_types
        lm_used = False
        weight = self.lm_weight(params)
        # a greeting or a thanks never waits for an LM (nor an injection: it is declined as it is)
        if weight > 0 and not signals.injection_pattern and not work and label not in ("greeting", "thanks"):
            out = call_lm(self.predict, trace, query=query.text, owner=self.persona.describe())
            if out is not None:
                lm_used = True
                relevant = blend(relevant, bool(out.relevant), weight)
                needs_retrieval = bool(blend(needs_retrieval, bool(out.needs_retrieval), weight))
                if weight >= 0.5 and out.doc_types:
                    doc_types = list(out.doc_types)
        doc_types = known_doc_types(doc_types, self.doc_types) if self.doc_types else list(doc_types)
        k = params.top_k
        if k and len(doc_types) > 1:
            k = max(k, p.multi_section_k)
        if relevant is False:
            needs_retrieval = False
        return Plan(
            relevant=relevant is not False,  # undecided → retrieval's similarity decides
            needs_retrieval=needs_retrieval,
            doc_types=doc_types,
            k=k,
            label=label,
            lm_used=lm_used,
        )
