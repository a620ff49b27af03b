"""The digital twin as one DSPy program: rewrite → plan → retrieve → generate (`pipeline/stages`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import dspy
import numpy as np

from pipeline.breaker import Breaker
from pipeline.history import Turn, parse_history, strip_markup
from pipeline.lang import FALLBACK, Knowledge, load_knowledge
from pipeline.names import LazyNames, SiteNames
from pipeline.params import ProgramParams
from pipeline.persona import Persona
from pipeline.providers.base import Embedder, LMCapabilities, ProviderError, SearchIndex
from pipeline.render import render_answer
from pipeline.replies import Replies
from pipeline.signals import SignalPlanner
from pipeline.site_cues import site_section_names
from pipeline.stages import LMTimeSpent, LMUnavailableError
from pipeline.stages.generate import Generate
from pipeline.stages.plan import PlanStage
from pipeline.stages.retrieve import Retrieve
from pipeline.stages.rewrite import Probe, Rewrite
from pipeline.text import keyword_fields
from pipeline.turn import Answer, Plan, Query, Retrieval, StageObserver, Trace  # noqa: F401

log = logging.getLogger(__name__)

# predictor names of programs saved before the stages were modules of their own
_RENAMED = {"rewrite": "rewrite.predict", "planner_lm": "plan.predict", "generate": "generate.predict",
            "frame": "generate.frame"}


class DigitalTwin(dspy.Module):
    """Answers a visitor's question about the site owner from the site's own content."""

    def __init__(
        self,
        store: SearchIndex,
        embedder: Embedder,
        persona: Persona | None = None,
        capabilities: LMCapabilities | None = None,
        params: ProgramParams | None = None,
        doc_types: Sequence[str] = (),
        cache_dir: Path | None = None,
        breaker: Breaker | None = None,
        lm_budget_s: float | None = None,
    ):
        super().__init__()
        self.params = params or ProgramParams()
        self.breaker = breaker or Breaker()
        # seconds into a request after which no LM call starts: one that did could not finish with
        # its retries before the request's deadline (the answer then comes from the site without it)
        self.lm_budget_s = lm_budget_s
        # a chat's earlier questions were embedded on their own turns: the next turn's probes reuse them
        self.recent = RecentVectors()
        self.store = store
        self.embedder = embedder
        self.persona = persona or Persona()
        self.capabilities = capabilities or LMCapabilities()
        self.doc_types = list(doc_types)
        self.cache_dir = cache_dir
        # what the pages are written in, by the packs' letters (en | ko with today's packs)
        packs = load_knowledge(self.params.lang_overrides)
        self.site_language = site_language(store, packs)
        self.names = LazyNames(self._site_names)
        self._assemble(packs)

    def _assemble(self, packs: Knowledge | None = None) -> None:
        """The stages, over the language packs as this program's parameters amend them."""
        packs = packs or load_knowledge(self.params.lang_overrides)
        self.knowledge: Knowledge = packs.with_site_sections(site_section_names(self.doc_types, packs))
        self.replies = Replies(self.knowledge, self.persona)
        self.signals = SignalPlanner(self.embedder, self.knowledge, self.cache_dir)
        self.rewrite = Rewrite(self.knowledge, self.replies, self.capabilities, site_language=self.site_language,
                               names=self.names)
        self.plan = PlanStage(self.signals, self.knowledge, self.persona, self.capabilities, self.doc_types, self.names)
        self.retrieve = Retrieve(self.store, self.knowledge, self.names)
        self.generate = Generate(self.knowledge, self.persona, self.replies, self.capabilities,
                                 site_language=self.site_language)

    def _site_names(self) -> SiteNames:
        """The index's entry titles as names; the owner's own name names no one entry."""
        k = self.knowledge
        owner = keyword_fields(f"{self.persona.name} {self.persona.native_name}")[0]
        ignore = k.stopwords | k.field_words | k.cue_words | set(owner)
        return SiteNames(((c.title, c.text) for c in self.store.chunks()), ignore=ignore)

    def forward(self, question: str, history: Sequence[dict | Turn] | None = None,
                observer: StageObserver | None = None) -> Answer:
        """The answer; when the LM fails (or has been failing: the breaker is open), the answer the
        embedded path gives from the site without it, marked `degraded="lm"`. Markup in a question
        is not what it asks: it is answered from its text, unless it asks for markup in the answer."""
        if not self.knowledge.is_injection(question):
            question = strip_markup(question) or question
        if not self.calls_lm:
            return self._answer(question, history, observer)
        if self.breaker.allow():
            try:
                answer = self._answer(question, history, observer)
            except LMUnavailableError as exc:
                if not isinstance(exc, LMTimeSpent):
                    self.breaker.failure()
                log.warning("LM unavailable, answering from the site without it: %s", exc)
            else:
                if answer.trace.lm_calls:
                    self.breaker.success()
                return answer
        answer = self.without_lm()._answer(question, history, observer)
        answer.degraded = answer.degraded or "lm"
        return answer

    def without_lm(self) -> DigitalTwin:
        """This program on the embedded path: no stage calls an LM (built once, shared by copies)."""
        if self.__dict__.get("_without_lm") is None:
            import copy

            twin = copy.copy(self)
            twin.capabilities = LMCapabilities()
            twin.params = self.params.model_copy(update={
                "lead_from_lm": False,
                "planner": self.params.planner.model_copy(update={"lm_weight_local": 0.0, "lm_weight_capable": 0.0}),
            })
            twin._assemble()
            self.__dict__["_without_lm"] = twin
        return self.__dict__["_without_lm"]

    def _answer(self, question: str, history: Sequence[dict | Turn] | None = None,
                observer: StageObserver | None = None) -> Answer:
        p = self.params
        trace = Trace(observer=observer)
        if self.lm_budget_s is not None:
            trace.lm_until = time.monotonic() + self.lm_budget_s
        turns = parse_history(history)
        vectors: dict[str, object] = {}
        try:
            with trace.stage("rewrite", message=question, history_turns=len(turns)) as stage:
                query = stage.outputs = self.rewrite(question, turns, p, trace, probe=self._prober(vectors))
            with trace.stage("embed", text=query.search_text):
                query = query.with_vector(self._embed(query.search_text, vectors))
            with trace.stage("plan", query=query.text, cue_text=query.cue_text) as stage:
                plan = stage.outputs = self.plan(query, p, trace)
            with trace.stage("retrieve", search_query=query.keyword_text, k=plan.k, doc_types=plan.doc_types,
                             mode=p.retrieval_mode, alpha=p.hybrid_alpha, filter=plan.filter_mode) as stage:
                retrieval = Retrieval()
                if plan.relevant and plan.needs_retrieval and plan.k > 0:
                    retrieval = self.retrieve(query, plan, p)
                    # nothing on the site is close, and the message does not point at the owner ("she",
                    # the name: an English question on a Korean site sits further from every page)
                    if (plan.label == "unknown" and not plan.lm_used and retrieval.best < p.planner.relevance_min_score
                            and not self.plan.mentions_owner(question)):
                        plan.relevant = False  # treated as off-topic
                        retrieval.hits = []
                stage.outputs = retrieval
        except ProviderError as exc:  # the embedder or the store is down (their clients' retries are spent)
            log.warning("retrieval unavailable, answering without it: %s", exc)  # adapters mask keys
            return self.unavailable(question, trace)
        with trace.stage("generate", language=query.language, passages=len(retrieval.hits), label=plan.label) as stage:
            text, kind = self.generate(query, plan, retrieval, p, trace)
            stage.outputs = {"text": text, "kind": kind}
        html = render_answer(text, self.persona.site_map, p.max_answer_chars)
        return Answer(html, text, query, plan, retrieval, trace, kind)

    def unavailable(self, question: str, trace: Trace | None = None) -> Answer:
        """The degraded answer: say honestly, in the visitor's language, that looking it up failed."""
        language = self.knowledge.detect(question)
        text = self.replies.say("unavailable", language)
        plan = Plan(relevant=True, needs_retrieval=True, doc_types=[], k=0, label="unknown")
        return Answer(render_answer(text, self.persona.site_map, self.params.max_answer_chars), text,
                      Query(question, language, question), plan, Retrieval(), trace or Trace(), "unavailable",
                      degraded="retrieval")

    # -- the query's vector: embedded once per request, whoever asks first ---------------------

    def _embed(self, text: str, vectors: dict) -> np.ndarray:
        if text not in vectors:
            key = (getattr(self.embedder, "name", ""), text)
            vectors[text] = self.recent.get(key)
            if vectors[text] is None:
                vectors[text] = self.recent.put(key, self.embedder.embed_queries([text])[0])
        return vectors[text]

    def _prober(self, vectors: dict):
        def probe(text: str) -> Probe:
            vector = self._embed(self.rewrite.search_text(text, self.params), vectors)
            return Probe(self.signals.label(vector, self.params.planner, text), self.retrieve.best_similarity(vector))

        return probe

    # -- what callers ask of it ---------------------------------------------------------------

    def warm_up(self) -> None:
        """Embed the planner's exemplars now rather than on the first request."""
        self.signals.warm_up()

    @property
    def calls_lm(self) -> bool:
        """Whether any stage may call the LM with these capabilities and parameters."""
        can = self.capabilities
        return can.can_plan or can.can_abstract or self.plan.lm_weight(self.params) > 0 or self.params.lead_from_lm

    def with_params(self, params: ProgramParams) -> DigitalTwin:
        """A copy with other parameters; when they amend the language packs otherwise, its stages
        are assembled over the amended packs, each predictor keeping its compiled state."""
        candidate = self.deepcopy()
        candidate.params = params
        if params.lang_overrides != self.params.lang_overrides:
            states = {name: predictor.dump_state() for name, predictor in self.named_predictors()}
            candidate._assemble()
            for name, predictor in candidate.named_predictors():
                predictor.load_state(states[name])
        return candidate

    def __deepcopy__(self, memo):
        """Copies (DSPy's optimizers make many) share the providers and the packs; the stages
        say what they share."""
        import copy

        shared = {"store", "embedder", "persona", "capabilities", "doc_types", "cache_dir", "knowledge", "replies",
                  "signals", "site_language", "breaker", "recent", "lm_budget_s"}
        new = self.__class__.__new__(self.__class__)
        for key, value in self.__dict__.items():
            if key == "_without_lm":
                continue  # built again from the copy's own parameters
            new.__dict__[key] = value if key in shared else copy.deepcopy(value, memo)
        return new

    # -- persistence: predictors via DSPy, parameters beside them -------------------------------

    def dump_state(self, *args, **kwargs):
        state = super().dump_state(*args, **kwargs)
        params = self.params.model_copy(update={"lang_fingerprint": self.knowledge.fingerprint})
        state["workbench_params"] = params.model_dump(mode="json")
        if self.__dict__.get("binding"):
            state["binding"] = dict(self.__dict__["binding"])
        return state

    def load_state(self, state, *args, **kwargs):
        state = {_RENAMED.get(key, key): value for key, value in state.items()}
        # a program optimized for one site's index: {"index_fingerprint", "dataset_sha256", "dataset"}
        self.__dict__["binding"] = state.pop("binding", None)
        params = state.pop("workbench_params", None)
        if params is not None:
            self.params = migrate_params(params)
            self._assemble()
            if self.params.lang_fingerprint and self.params.lang_fingerprint != self.knowledge.fingerprint:
                log.warning("the language packs changed since this program was saved: run `make optimize` "
                            "to re-tune it against them")
        for name, predictor in self.named_predictors():  # one the file lacks keeps its current state
            state.setdefault(name, predictor.dump_state())
        return super().load_state(state, *args, **kwargs)


class RecentVectors:
    """The query vectors of the last `size` texts embedded, shared by every request (and by copies
    of the program): a follow-up's probe of the earlier question finds it here instead of paying for
    another embedding. Keyed by the embedder's name and the exact text embedded."""

    def __init__(self, size: int = 4096):
        import threading
        from collections import OrderedDict

        self.size, self._lock = size, threading.Lock()
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple[str, str]):
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, key: tuple[str, str], vector):
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def site_language(store: SearchIndex, knowledge: Knowledge) -> str:
    """The language most of the site is written in, from its chunks' text."""
    try:
        text = " ".join(c.text for c in store.chunks())
    except (ProviderError, AttributeError):
        return FALLBACK
    return knowledge.detect(text) if text else FALLBACK


def migrate_params(saved: dict) -> ProgramParams:
    """Parameters of a saved program; those of an earlier version lose their copies of the
    language data (now in `pipeline/lang`) and knobs that no longer exist."""
    saved = dict(saved)
    planner = {k: v for k, v in (saved.get("planner") or {}).items()
               if k not in ("exemplars", "section_cues", "glossary", "default_k")}
    saved["planner"] = planner
    known = set(ProgramParams.model_fields)
    return ProgramParams.model_validate({k: v for k, v in saved.items() if k in known})


def save_program(program: DigitalTwin, path: Path, binding: dict | None = None) -> Path:
    """Save the program; `binding` ties it to the index (and dataset) it was optimized for.
    Written in one rename: a kill mid-write leaves the previous program."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if binding is not None:
        program.__dict__["binding"] = dict(binding)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # DSPy picks the format by the suffix
    program.save(str(tmp))
    os.replace(tmp, path)
    return path
