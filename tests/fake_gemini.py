"""An in-memory Gemini API (generativelanguage REST, v1 and v1beta) on 127.0.0.1.

It serves what `google-genai` and DSPy's Gemini providers send:

    POST /{version}/models/{model}:batchEmbedContents   {"requests": [{model, content, taskType?, outputDimensionality?}]}
    POST /{version}/models/{model}:embedContent         {content, taskType?, outputDimensionality?}
    POST /{version}/models/{model}:generateContent      {contents, systemInstruction?, generationConfig?}
    POST /{version}/models/{model}:streamGenerateContent?alt=sse   (the same reply as server-sent events)

`google-genai` takes the root as `HttpOptions(base_url=fake.url)` and adds its API
version (`/v1` by default in 3.x); DSPy's native provider and LiteLLM take
`fake.url + "/v1beta"` as their api_base.

Embeddings are deterministic hashed bags of words of the requested
`outputDimensionality` (default 3072), deliberately *not* unit length below 3072
dimensions, as the real API. The key is read from `x-goog-api-key` (or `?key=`); a
wrong one gets the service's real answer, 400 INVALID_ARGUMENT / API_KEY_INVALID.

Replies of generateContent: `fake.reply` (a string, or a callable taking the request
body and returning a string); `fake.replies` is a queue consumed first.

Faults: `fake.inject(status=429, times=2)`, `fake.inject(delay=3.0)`.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_server import FakeHandler, FakeServer

MAX_BATCH = 100
DEFAULT_DIM = 3072
_ROUTE = re.compile(r"^/(?P<version>v1(?:alpha|beta)?)/models/(?P<model>[^:/]+):(?P<method>[A-Za-z]+)$")
_TOKEN = re.compile(r"\w+", re.UNICODE)
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def hashed_embedding(text: str, dim: int) -> list[float]:
    """Bag of lowercase words hashed into `dim` signed buckets (similar texts → similar vectors)."""
    out = [0.0] * dim
    for token in _TOKEN.findall(text.lower()) or ["<empty>"]:
        h = zlib.crc32(token.encode())
        out[h % dim] += 1.0 if (h >> 31) & 1 == 0 else 0.5
    return out


class GeminiApiError(Exception):
    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = (content or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


class _Handler(FakeHandler):
    fault_messages = {
        429: "Resource has been exhausted (e.g. check quota).",
        500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        503: "The model is overloaded. Please try again later.",
    }

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, payloads: list[dict]) -> None:
        data = b"".join(b"data: " + json.dumps(p).encode() + b"\r\n\r\n" for p in payloads)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None, details: list | None = None) -> None:
        error = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
        if details:
            error["details"] = details
        self._send(status, {"error": error})

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        received = self._receive(method)
        if received is None:
            return
        parts, body, raw = received
        query = parse_qs(parts.query)
        key = self.headers.get("x-goog-api-key") or (query.get("key") or [None])[0]
        if key != fake.api_key:
            self._error(
                400,
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            )
            return
        match = _ROUTE.match(unquote(parts.path))
        if method != "POST" or match is None:
            self._error(404, f"Method not found: {method} {parts.path}")
            return
        if body is None:
            self._error(400, "Invalid JSON payload received.")
            return
        model, action = match["model"], match["method"]
        try:
            with fake._lock:
                if action == "batchEmbedContents":
                    self._send(200, fake._batch_embed(model, body))
                elif action == "embedContent":
                    self._send(200, {"embedding": fake._embed_one(model, body)})
                elif action == "generateContent":
                    self._send(200, fake._generate(model, body))
                elif action == "streamGenerateContent":
                    self._send_sse([fake._generate(model, body)])
                else:
                    raise GeminiApiError(404, f"Method not found: {action}")
        except GeminiApiError as exc:
            self._error(exc.status, exc.message, exc.details)


class FakeGemini(FakeServer):
    """See the module docstring."""

    handler = _Handler
    name = "fake-gemini"

    def __init__(self, api_key: str = "test-key", reply: str | Callable[[dict], str] = "Hello from the fake Gemini."):
        self.api_key = api_key
        self.reply = reply
        self.replies: list[str] = []
        self.embed_models = ("gemini-embedding-001", "text-embedding-004", "gemini-embedding-exp-03-07")
        super().__init__()

    # -- test helpers ----------------------------------------------------------------

    def calls(self, action: str) -> list[tuple[str, str, Any]]:
        """Recorded requests whose path ends in `:{action}` (query ignored)."""
        return [r for r in self.requests if urlsplit(r[1]).path.endswith(f":{action}")]

    # -- the API -----------------------------------------------------------------------

    def _embed_one(self, model: str, request: dict) -> dict:
        if model not in self.embed_models:
            raise GeminiApiError(404, f"models/{model} is not found for API version v1beta, or is not supported for embedContent.")
        dim = request.get("outputDimensionality") or DEFAULT_DIM
        if not isinstance(dim, int) or not 1 <= dim <= DEFAULT_DIM:
            raise GeminiApiError(400, "outputDimensionality must be between 1 and 3072")
        text = _text_of(request.get("content"))
        if not text:
            raise GeminiApiError(400, "* EmbedContentRequest.content: contents is not specified\n")
        values = hashed_embedding(text, dim)
        if dim == DEFAULT_DIM:  # only the full-size output comes normalised
            norm = sum(v * v for v in values) ** 0.5
            values = [v / norm for v in values]
        return {"values": values}

    def _batch_embed(self, model: str, body: dict) -> dict:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise GeminiApiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
        if len(requests) > MAX_BATCH:
            raise GeminiApiError(400, f"* BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one batch\n")
        for request in requests:
            if request.get("model") not in (None, f"models/{model}"):
                raise GeminiApiError(400, f"Model in request {request.get('model')!r} does not match models/{model}")
        return {"embeddings": [self._embed_one(model, r) for r in requests]}

    def _generate(self, model: str, body: dict) -> dict:
        contents = body.get("contents")
        if not contents:
            raise GeminiApiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
        prompt = "\n".join(_text_of(c) for c in contents)
        system = _text_of(body.get("systemInstruction"))
        if self.replies:
            text = self.replies.pop(0)
        else:
            text = self.reply(body) if callable(self.reply) else self.reply
        prompt_tokens = max(1, len((system + prompt).split()))
        out_tokens = max(1, len(text.split()))
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": out_tokens,
                "totalTokenCount": prompt_tokens + out_tokens,
            },
            "modelVersion": model,
            "responseId": f"fake-{len(self.requests)}",
        }
