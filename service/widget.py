"""GET /widget.js: the one-tag chat for any site (`service/widget/twin-chat.js`).

`/widget.js` is always the current widget (revalidated: `no-cache` with an ETag, so an owner's
page picks up a new version); `/widget/<hash>.js` is one version, cached for a year, for pages
that pin it with Subresource Integrity. `snippet()` is what an owner pastes (`workbench widget`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fastapi import FastAPI, Request, Response

from service.errors import ServiceError

JS_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class WidgetScript:
    body: bytes
    digest: str  # the file name's content hash
    integrity: str  # the Subresource Integrity value

    @property
    def path(self) -> str:
        return f"/widget/{self.digest}.js"


@lru_cache(maxsize=1)
def widget_script() -> WidgetScript:
    body = resources.files("service").joinpath("widget", "twin-chat.js").read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:16]
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    return WidgetScript(body, digest, integrity)


def content_security_policy(service_url: str) -> str:
    """A policy a page with the widget can adopt: scripts and calls only to itself and the service,
    no inline script or style, no eval."""
    service = service_url.rstrip("/")
    return (f"default-src 'self'; script-src 'self' {service}; connect-src 'self' {service}; "
            f"style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'")


def snippet(service_url: str, pinned: bool = True) -> str:
    """The tag an owner adds to their site's layout (pinned: this version, with its integrity)."""
    script = widget_script()
    service = service_url.rstrip("/")
    if not pinned:
        return f'<script src="{service}/widget.js" defer></script>'
    return (f'<script src="{service}{script.path}" integrity="{script.integrity}" '
            f'crossorigin="anonymous" defer></script>')


def install(app: FastAPI) -> None:
    headers = {"X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "cross-origin"}

    @app.get("/widget.js", tags=["widget"], response_class=Response,
             responses={200: {"content": {"text/javascript": {}}, "description": "The current chat widget."}})
    async def widget(request: Request) -> Response:
        """The chat widget: `<script src=".../widget.js" defer></script>` on any page adds it."""
        script = widget_script()
        etag = f'"{script.digest}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag, **headers})
        return Response(script.body, media_type=JS_TYPE,
                        headers={"Cache-Control": "no-cache", "ETag": etag, **headers})

    @app.get("/widget/{digest}.js", tags=["widget"], response_class=Response,
             responses={200: {"content": {"text/javascript": {}}}, 404: {"description": "Not this version."}})
    async def widget_version(digest: str) -> Response:
        """One version of the widget, by its content hash (cacheable for a year)."""
        script = widget_script()
        if digest != script.digest:
            raise ServiceError(404, f"no widget version {digest}: the current one is {script.path}")
        return Response(script.body, media_type=JS_TYPE,
                        headers={"Cache-Control": "public, max-age=31536000, immutable", **headers})
