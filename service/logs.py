"""Logging: one line per request, and the process's format (`RAG_LOG_FORMAT`: text or json).

A request's line has its method, path (never the query string), status, milliseconds, the
pipeline's stage timings when it ran and whether the answer was degraded — never the visitor's
text, the session id or a key. The route leaves what it knows in `scope["state"]["log"]`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

ACCESS = logging.getLogger("service.access")
_HANDLER_NAME = "service"


class AccessLog:
    """ASGI middleware (outermost): the request's line once its response has been sent."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        note: dict = {}
        scope.setdefault("state", {})["log"] = note
        status = 500  # what an exception that escapes everything becomes

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            request_line(scope["method"], scope["path"], status, (time.perf_counter() - started) * 1000, note)


def request_line(method: str, path: str, status: int, ms: float, note: dict) -> None:
    stages = note.get("stages")
    degraded = note.get("degraded")
    text = f"{method} {path[:200]} {status} {ms:.0f} ms"
    if stages:
        text += " stages " + " ".join(f"{name}={value:.1f}" for name, value in stages.items())
    text += f" degraded={degraded or '-'}"
    fields = {"method": method, "path": path[:200], "status": status, "ms": round(ms, 1),
              "stages": stages or None, "degraded": degraded}
    ACCESS.info(text, extra={"fields": fields})


def note(request, *, stages: dict | None = None, degraded: str | None = None) -> None:
    """What the route knows about its answer, for the request's line."""
    entry = request.scope.setdefault("state", {}).setdefault("log", {})
    entry.update(stages=stages, degraded=degraded)


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and a request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(out, ensure_ascii=False)


def configure(log_format: str = "text", level: int = logging.INFO, stream=None) -> logging.Handler:
    """The process's logging for `workbench serve`: one handler on the root logger (uvicorn's
    own loggers propagate to it), timestamped, with the level; replaces an earlier one."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if log_format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    return handler
