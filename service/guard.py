"""The guard in front of /api: key, the caller's rate, content type, size, UTF-8 — before parsing."""

from __future__ import annotations

import asyncio
import hmac

from starlette.datastructures import Headers

from pipeline.settings import Settings
from service.errors import ServiceError
from service.limits import Limits

API_KEY_HEADER = "X-API-Key"


class Guard:
    """Pure ASGI middleware for /api/*: cheap refusals before any parsing. It leaves the
    request's `Client` in `scope["state"]["client"]` for the route."""

    def __init__(self, app, settings: Settings, limits: Limits):
        self.app = app
        self.settings = settings
        self.limits = limits
        self._key = settings.api_key.get_secret_value().encode() if settings.api_key else None
        self._widget_origins = frozenset(settings.widget_origin_list)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            # a visitor's browser on a widget site holds no key (a page cannot keep a secret): it is let in
            # without one and limited as one visitor, by its own address
            browser = headers.get("origin", "").rstrip("/") in self._widget_origins
            authenticated = None if browser else self._authenticated(headers)
            client = self.limits.client(scope, headers, authenticated is True, browser=browser)
            scope.setdefault("state", {})["client"] = client
            if scope["method"] == "POST" or authenticated is False:
                # before the key is judged: a wrong key costs a token like any request
                self.limits.enter(client)
            if authenticated is False:
                raise ServiceError(401, f"missing or wrong API key: send the shared secret in {API_KEY_HEADER}")
            body = await self._read_body(headers, receive) if scope["method"] == "POST" else None
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

    def _authenticated(self, headers: Headers) -> bool | None:
        """None when no key is configured; else whether the right one was presented."""
        if self._key is None:
            return None
        presented = headers.get(API_KEY_HEADER)
        return presented is not None and hmac.compare_digest(presented.encode("latin-1"), self._key)

    async def _read_body(self, headers: Headers, receive) -> bytes:
        content_type = headers.get("content-type", "").split(";")
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
        try:
            async with asyncio.timeout(self.settings.body_timeout_s):
                return await self._receive_body(receive, limit)
        except TimeoutError:
            # a client sending its body byte by byte holds a connection and a worker's place: not for long
            raise ServiceError(408, f"the body took longer than {self.settings.body_timeout_s:g} s to arrive") from None

    @staticmethod
    async def _receive_body(receive, limit: int) -> bytes:
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
