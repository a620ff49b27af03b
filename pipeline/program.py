"""The digital twin as one DSPy program: rewrite → plan → retrieve → generate."""

from __future__ import annotations

import copy
import logging
import re
import time
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import dspy
from pydantic import BaseModel, Field

from pipeline import answers
from pipeline.history import Turn, format_history, parse_history
from pipeline.persona import Persona
from pipeline.planner import PlannerParams, SignalPlanner, blend, known_doc_types
from pipeline.providers.base import Embedder, Hit, LMCapabilities, ProviderError
from pipeline.render import render_answer, section_label
from pipeline.retrieve import Retriever
from pipeline.signatures import FrameAnswer, GenerateAnswer, PlanQuery, RewriteQuery
from pipeline.text import detect_language, keyword_tokens

log = logging.getLogger(__name__)

# output-token caps per stage: the local model must finish its JSON well before these
MAX_TOKENS = {"rewrite": 96, "plan": 64, "generate": 320, "frame": 48}

_FOLLOW_UP = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|there|he|she|his|her|same|which one|what about|and)\b"
    r"|그[것거곳분때]?|이[것거]|거기|저[것거]|그럼|그래서|또|더",
    re.IGNORECASE,
)


class LMUnavailableError(RuntimeError):
    """The configured LM could not be reached; the service answers 503."""


#: Whoever runs the program may watch its stages (the service: tracing spans, and stopping
#: work at a stage boundary once the visitor has gone): a callable taking the stage's name
#: and returning a context manager entered around that stage. Unset: no cost.
STAGE_OBSERVER: ContextVar[Callable[[str], AbstractContextManager] | None] = ContextVar(
    "stage_observer", default=None
)


class ProgramParams(BaseModel):
    """Everything tunable that is not a prompt: saved beside the predictors' state."""

    planner: PlannerParams = Field(default_factory=PlannerParams)
    retrieval_mode: str = "hybrid"
    hybrid_alpha: float = 0.6
    # how much a section guessed from keyword cues counts (soft filter: rank fusion weight)
    section_filter_weight: float = 1.0
    top_k: int = 5
    max_answer_chars: int = 500
    # the local LM writes a one-line framing, kept only when it passes answers.safe_lead;
    # measured: SmolLM2-135M passes 0 of 66 times on the demo questions (optimizer's call)
    lead_from_lm: bool = True
    follow_up_max_words: int = 12
    follow_up_with_answer: bool = True
    follow_up_answer_chars: int = 160
    # the extractive answer (answers.supporting_lines): how much of the passages it quotes
    fact_chars: int = 360
    fact_passages: int = 3
    fact_lines_top: int = 3
    fact_lines_other: int = 1


@dataclass
class Source:
    id: str
    source: str
    title: str
    doc_type: str
    score: float
    anchor: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "doc_type": self.doc_type,
            "score": round(self.score, 4),
            "anchor": self.anchor,
        }


@dataclass
class Plan:
    relevant: bool
    needs_retrieval: bool
    doc_types: list[str]
    k: int
    label: str  # the signal planner's label: greeting, identity, off_topic, injection, owner, unknown
    lm_used: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "relevant": self.relevant,
            "needs_retrieval": self.needs_retrieval,
            "doc_types": self.doc_types,
            "k": self.k,
            "label": self.label,
            "lm_used": self.lm_used,
        }


@dataclass
class Trace:
    """Per-request bookkeeping: stage latencies and LM usage."""

    timings_ms: dict[str, float] = field(default_factory=dict)
    lm_calls: int = 0
    lm_fallbacks: int = 0
    lm_tokens: int = 0

    @contextmanager
    def stage(self, name: str):
        observer = STAGE_OBSERVER.get()
        started = time.perf_counter()
        try:
            if observer is None:
                yield
            else:
                with observer(name):
                    yield
        finally:
            self.timings_ms[name] = round((time.perf_counter() - started) * 1000, 2)


class DigitalTwin(dspy.Module):
    """Answers a visitor's question about the site owner from the site's own content."""

    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        persona: Persona | None = None,
        capabilities: LMCapabilities | None = None,
        params: ProgramParams | None = None,
        doc_types: Sequence[str] = (),
        cache_dir: Path | None = None,
    ):
        super().__init__()
        self.rewrite = dspy.Predict(RewriteQuery, max_tokens=MAX_TOKENS["rewrite"])
        self.planner_lm = dspy.Predict(PlanQuery, max_tokens=MAX_TOKENS["plan"])
        self.generate = dspy.Predict(GenerateAnswer, max_tokens=MAX_TOKENS["generate"])
        self.frame = dspy.Predict(FrameAnswer, max_tokens=MAX_TOKENS["frame"])
        self.params = params or ProgramParams()
        self._retriever = retriever
        self._embedder = embedder
        self._persona = persona or Persona()
        self._capabilities = capabilities or LMCapabilities()
        self._doc_types = list(doc_types)
        self._signals: SignalPlanner | None = None
        self._cache_dir = cache_dir

    def __deepcopy__(self, memo):
        """Copies (DSPy's optimizers make many) share the providers: only prompts, demos
        and parameters are copied. A native embedder handle must never be duplicated."""
        shared = {"_retriever", "_embedder", "_persona", "_capabilities", "_signals", "_cache_dir", "_doc_types"}
        new = self.__class__.__new__(self.__class__)
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key in shared else copy.deepcopy(value, memo)
        return new

    # -- persistence: predictors via DSPy, parameters beside them --------------------------

    def dump_state(self, *args, **kwargs):
        state = super().dump_state(*args, **kwargs)
        state["workbench_params"] = self.params.model_dump(mode="json")
        return state

    def load_state(self, state, *args, **kwargs):
        state = dict(state)
        params = state.pop("workbench_params", None)
        if params is not None:
            self.params = ProgramParams.model_validate(params)
            self._signals = None
        return super().load_state(state, *args, **kwargs)

    @property
    def signal_planner(self) -> SignalPlanner:
        if self._signals is None:
            self._signals = SignalPlanner(self._embedder, self.params.planner, self._cache_dir)
        return self._signals

    def warm_up(self) -> None:
        """Embed the planner's exemplars now rather than on the first request."""
        _ = self.signal_planner

    @property
    def calls_lm(self) -> bool:
        """Whether any stage may call the LM with these capabilities and parameters."""
        can = self._capabilities
        return can.can_plan or can.can_abstract or self.lm_weight > 0 or self.params.lead_from_lm

    @property
    def lm_weight(self) -> float:
        p = self.params.planner
        return p.lm_weight_capable if self._capabilities.can_plan else p.lm_weight_local

    # -- the program ------------------------------------------------------------------

    def forward(self, question: str, history: Sequence[dict | Turn] | None = None, top_k: int | None = None):
        trace = Trace()
        turns = parse_history(history)
        language = detect_language(question)
        self._retriever.mode = self.params.retrieval_mode
        self._retriever.alpha = self.params.hybrid_alpha
        self._retriever.filter_weight = self.params.section_filter_weight

        with trace.stage("rewrite"):
            query = self._rewrite(question, turns, trace)
        search_query = self.signal_planner.expand(query)
        with trace.stage("embed"):
            try:
                vector = self._embedder.embed_queries([search_query])[0]
            except ProviderError as exc:  # the embedder is down: nothing can be looked up
                return self._lookup_unavailable(query, language, trace, exc)
        with trace.stage("plan"):
            plan = self._plan(query, vector, trace, top_k, self._cue_text(question, query, turns))
        hits: list[Hit] = []
        best = 0.0
        with trace.stage("retrieve"):
            if plan.relevant and plan.needs_retrieval and plan.k > 0:
                try:
                    retrieved = self._retriever(
                        search_query, vector, plan.k, plan.doc_types, "hard" if plan.lm_used else "soft"
                    )
                except ProviderError as exc:  # the store is down (its client's retries are spent)
                    return self._lookup_unavailable(query, language, trace, exc, plan)
                hits, best = retrieved.hits, retrieved.best_similarity
                if plan.label == "unknown" and not plan.lm_used and best < self.params.planner.relevance_min_score:
                    plan.relevant = False  # nothing on the site is close: treat as off-topic
                    hits = []
        with trace.stage("generate"):
            text = self._generate(question, search_query, language, plan, hits, trace)
        answer = render_answer(text, self._persona.site_map, self.params.max_answer_chars)
        return dspy.Prediction(
            answer=answer,
            answer_text=text,
            sources=[
                Source(h.chunk.id, h.chunk.source, h.chunk.title, h.chunk.doc_type, h.score, h.chunk.anchor)
                for h in hits
            ],
            plan=plan,
            rewritten_query=query,
            language=language,
            best_similarity=best,
            trace=trace,
        )

    def _lookup_unavailable(self, query: str, language: str, trace: Trace, exc: ProviderError,
                            plan: Plan | None = None):
        """The degraded answer: say honestly, in the visitor's language, that looking it up failed."""
        log.warning("retrieval unavailable, answering without it: %s", exc)  # adapters mask keys
        text = answers.lookup_unavailable(self._persona, language)
        return dspy.Prediction(
            answer=render_answer(text, self._persona.site_map, self.params.max_answer_chars),
            answer_text=text,
            sources=[],
            plan=plan or Plan(relevant=True, needs_retrieval=True, doc_types=[], k=0, label="unknown"),
            rewritten_query=query,
            language=language,
            best_similarity=0.0,
            trace=trace,
            degraded="retrieval",
        )

    # -- stages -------------------------------------------------------------------------

    def _call(self, predictor: dspy.Predict, trace: Trace, **inputs):
        """One LM call; parse failures fall back (counted), provider outages raise."""
        trace.lm_calls += 1
        try:
            return predictor(**inputs)
        except Exception as exc:  # noqa: BLE001 - classified below
            if _is_provider_outage(exc):
                raise LMUnavailableError(f"the language model is unavailable ({exc.__class__.__name__})") from exc
            trace.lm_fallbacks += 1
            log.warning("LM output unusable in %s: %s", predictor.signature.__name__, exc.__class__.__name__)
            return None

    def _rewrite(self, question: str, turns: list[Turn], trace: Trace) -> str:
        if not turns:
            return question
        last_user = next((t.text for t in reversed(turns) if t.role == "user"), "")
        if self._capabilities.can_plan:
            out = self._call(self.rewrite, trace, conversation=format_history(turns), message=question)
            if out is not None and out.standalone_query.strip():
                return out.standalone_query.strip()
        # a small LM cannot rewrite reliably: carry the previous question's subject along
        # when the message reads like a follow-up (short, or referring back)
        words = len(question.split())
        if last_user and (words <= self.params.follow_up_max_words or _FOLLOW_UP.search(question)):
            context = last_user
            if self.params.follow_up_with_answer:
                last_model = next((t.text for t in reversed(turns) if t.role == "model"), "")
                context = f"{last_user} {last_model[: self.params.follow_up_answer_chars]}".strip()
            return f"{question} ({context})"
        return question

    def _cue_text(self, question: str, query: str, turns: list[Turn]) -> str:
        """The words the section cues are read from: the visitor's, not the model's.

        A heuristic follow-up query carries the previous answer along for retrieval, and
        an answer's incidental words ("which I studied…") would pick the wrong section;
        so the cues come from the message, else from the previous question."""
        if query == question or not turns or self._capabilities.can_plan:
            return query  # standalone already, or rewritten by an LM that can
        if self.signal_planner.doc_types_for(question):
            return question
        return next((t.text for t in reversed(turns) if t.role == "user"), question)

    def _plan(self, query: str, vector, trace: Trace, top_k: int | None, cue_text: str | None = None) -> Plan:
        p = self.params.planner
        signals = self.signal_planner.signals(query, vector, cue_text)
        relevant, needs_retrieval = signals.vote(p)
        doc_types = signals.doc_types
        lm_used = False
        if self.lm_weight > 0 and not signals.injection_pattern:
            out = self._call(self.planner_lm, trace, query=query, owner=self._persona.describe())
            if out is not None:
                lm_used = True
                relevant = blend(relevant, bool(out.relevant), self.lm_weight)
                needs_retrieval = bool(blend(needs_retrieval, bool(out.needs_retrieval), self.lm_weight))
                if self.lm_weight >= 0.5 and out.doc_types:
                    doc_types = list(out.doc_types)
        doc_types = known_doc_types(doc_types, self._doc_types) if self._doc_types else list(doc_types)
        k = self.params.top_k if top_k is None else top_k
        if k and len(doc_types) > 1:
            k = max(k, p.multi_section_k)
        if relevant is False:
            needs_retrieval = False
        return Plan(
            relevant=relevant is not False,  # undecided → let retrieval's similarity decide
            needs_retrieval=needs_retrieval,
            doc_types=doc_types,
            k=k,
            label=signals.label if not signals.injection_pattern else "injection",
            lm_used=lm_used,
        )

    def _generate(self, question: str, query: str, language: str, plan: Plan, hits: list[Hit], trace: Trace) -> str:
        persona = self._persona
        writes_language = language in self._capabilities.languages
        if not plan.relevant:
            return answers.decline(persona, language)
        if not plan.needs_retrieval:
            return answers.greeting(persona, language) if plan.label == "greeting" else answers.identity(persona, language)
        if not hits:
            return answers.not_found(persona, language)
        label = section_label(hits[0].chunk.doc_type, persona.site_map)
        if self._capabilities.can_abstract and writes_language:
            out = self._call(
                self.generate,
                trace,
                passages=answers.format_passages(hits),
                question=question if question == query else f"{question}\n(standalone: {query})",
                language=answers.LANGUAGE_NAMES.get(language, "English"),
                site_sections=", ".join(link.label for link in persona.site_map) or "(none)",
            )
            if out is not None and out.answer.strip():
                return out.answer.strip()
        p = self.params
        facts = answers.supporting_lines(query, hits, keyword_tokens, p.fact_chars, passages=p.fact_passages,
                                         lines_top=p.fact_lines_top, lines_other=p.fact_lines_other)
        if not answers.mentions_query(query, facts, keyword_tokens):
            # the closest passages do not contain what was asked: say so, then show them
            return answers.extractive(persona, language, facts, None, label, writes_language, found=False)
        lead = None
        if self.params.lead_from_lm and writes_language and language == "en":
            out = self._call(self.frame, trace, question=question, facts="\n".join(facts))
            if out is not None:
                lead = answers.safe_lead(out.lead, facts, question)
        return answers.extractive(persona, language, facts, lead, label, writes_language)


def _is_provider_outage(exc: Exception) -> bool:
    """Connection, auth, quota, rate-limit and server faults: the LM is not there and
    DSPy's retries are spent. Bad output or a too-long prompt is not an outage."""
    from dspy import lm15
    from dspy.utils import exceptions as dspy_errors

    outages = (
        dspy_errors.LMTransportError,
        dspy_errors.LMLockTimeoutError,
        dspy_errors.LMNotConfiguredError,
        dspy_errors.LMAuthError,
        dspy_errors.LMBillingError,
        dspy_errors.LMRateLimitError,
        dspy_errors.LMTimeoutError,
        dspy_errors.LMServerError,
        lm15.TransportError,
        lm15.ServerError,
        lm15.RateLimitError,
        lm15.AuthError,
        lm15.TimeoutError,
        lm15.NotConfiguredError,
    )
    return isinstance(exc, outages)


def save_program(program: DigitalTwin, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path))
    return path


def load_program_state(program: DigitalTwin, path: Path) -> DigitalTwin:
    program.load(str(path))
    return program
