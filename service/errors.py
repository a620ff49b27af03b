"""Errors as the service answers them: `{"error": "<one sentence>"}` with a status, never a trace."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from service.schemas import error_sentence

log = logging.getLogger("service")


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

    def event(self) -> dict:
        """The `error` event of a stream that has begun: what /api/chat would have answered."""
        return {"error": self.message, "status": self.status, "retryAfter": self.headers().get("Retry-After")}


class Cancelled(Exception):
    """Raised at a stage boundary once nobody waits for the answer any more."""


def install_handlers(app: FastAPI) -> None:
    """Every way a request can fail, as a JSON sentence."""

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        status, message = error_sentence(exc)
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


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a JSON body on refused preflights."""

    def preflight_response(self, request_headers):
        response = super().preflight_response(request_headers)
        if response.status_code >= 400:
            reason = response.body.decode("utf-8", "replace").strip() or "CORS preflight refused"
            headers = MutableHeaders(raw=list(response.headers.raw))
            del headers["content-length"]  # JSONResponse sets its own
            del headers["content-type"]
            return JSONResponse({"error": f"CORS preflight refused ({reason.lower()})"},
                                status_code=response.status_code, headers=headers)
        return response
