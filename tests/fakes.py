"""Fakes of the provider interfaces: small, deterministic, and honest about what they do."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence

import numpy as np
from dspy import lm15

from pipeline.text import keyword_tokens


class HashEmbedder:
    """Bag-of-keywords vectors hashed into `dim` buckets: similar words → similar vectors."""

    name = "fake/hash-64"

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.calls = 0
        self.texts_embedded = 0

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in keyword_tokens(text) or ["<empty>"]:
                out[row, zlib.crc32(token.encode()) % self.dim] += 1.0
        out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)
        return out

    embed_queries = _embed
    embed_passages = _embed


def _placeholder(schema: dict):
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "boolean":
        return True
    if kind == "integer":
        return 1
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "ok"


class ScriptedEngine:
    """A DSPy engine that answers every request with JSON built from a script.

    `script` maps output field names to values, or is a callable taking the
    request's user text and returning such a dict. Unscripted fields get a
    placeholder of the schema's type.
    """

    supports_response_schema = True
    supported_params = {"response_format", "max_tokens", "temperature"}

    def __init__(self, script: dict | Callable[[str], dict] | None = None, fail_with: Exception | None = None):
        self.script = script or {}
        self.fail_with = fail_with
        self.requests: list[lm15.Request] = []

    def complete(self, request: lm15.Request) -> lm15.Response:
        self.requests.append(request)
        if self.fail_with is not None:
            raise self.fail_with
        fmt = request.config.response_format or {}
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema", {})
        user_text = "\n".join(m.text or "" for m in request.messages)
        scripted = self.script(user_text) if callable(self.script) else self.script
        out = {name: scripted.get(name, _placeholder(spec)) for name, spec in schema.get("properties", {}).items()}
        return lm15.Response(
            id="fake-1",
            model=request.model,
            message=lm15.Message.assistant(json.dumps(out)),
            finish_reason="stop",
            usage=lm15.Usage(input_tokens=len(user_text) // 4, output_tokens=10),
        )

    def stream(self, request):
        raise lm15.UnsupportedFeatureError("no streaming")

    def close(self):
        pass
