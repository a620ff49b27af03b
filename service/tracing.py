"""Langfuse tracing of the service's requests: one trace per request, one span per stage.

With `LANGFUSE_PUBLIC_KEY` and `LANGFUSE_SECRET_KEY` set, each request becomes one Langfuse
trace (the Langfuse Python SDK, v3+ — OpenTelemetry-based — exporting OTLP/HTTP to
`{LANGFUSE_HOST}/api/public/otel/v1/traces` from a background thread):

    chat (root; input: message + history length, output: answer and sources; session id, tags)
    ├── rewrite    input: message, history turns   output: the Query (standalone text, search text, follow-up?)
    ├── embed      input: the search text that is embedded (an `embedding` observation)
    ├── plan       input: query, cue text          output: the Plan
    ├── retrieve   input: search query, k, sections, mode, weight, filter   output: the Retrieval (a `retriever`)
    └── generate   input: language, passages, label   output: answer text and kind
        └── (one `generation` per LM call made in a stage: predictor inputs and outputs, model, tokens)

Inputs and outputs are the stage's own (`pipeline.turn.StageRecord`, filled by the program as
the stage runs), not rebuilt afterwards. Every stage span carries its latency (its own start and
end) and the LM tokens spent in it (metadata `lm_tokens`, from DSPy's usage tracker). Stage spans
open when the stage starts (the observer the service passes to the program) and are ended, with the
stage's own end time, when the request ends, so they can carry the stage's outputs.

Without keys nothing here is imported beyond this module and nothing is created: the
per-request cost is one attribute check. Tracing can never change an answer: every call
into the SDK is guarded, and export happens off the request path. Logs name only exception
classes — never keys, prompts or visitors' text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any

from pipeline.turn import total_tokens

log = logging.getLogger(__name__)

STAGE_TYPES = {"embed": "embedding", "retrieve": "retriever"}  # the rest are plain spans
_NOTHING = nullcontext()
MAX_TEXT = 2000  # characters of any one text kept in a trace


def _clip(text: Any, limit: int = MAX_TEXT) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


class _guarded:  # noqa: N801 - used like a function: `with _guarded("what"):`
    """Run a tracing step; a failure is logged (class name only) and swallowed."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and isinstance(exc, Exception):
            log.warning("tracing: %s failed (%s); the answer is unaffected", self.what, kind.__name__)
            return True
        return False


def _tokens_so_far() -> int:
    """Tokens recorded so far by the running program's usage tracker (0 without one)."""
    import dspy

    tracker = dspy.settings.usage_tracker
    return total_tokens(tracker.get_total_tokens()) if tracker is not None else 0


class Tracer:
    """Builds per-request traces; a disabled tracer hands out no-op ones."""

    def __init__(self, settings, *, flush_interval: float | None = None, timeout: int | None = None):
        self.enabled = False
        self._client = None
        self._provider = None
        if not settings.tracing_enabled:
            return
        try:
            from langfuse import Langfuse
            from opentelemetry.sdk.trace import TracerProvider

            # a private provider: the service's spans only, and no global OTel state touched
            self._provider = TracerProvider()
            self._client = Langfuse(
                public_key=settings.langfuse_public_key.get_secret_value(),
                secret_key=settings.langfuse_secret_key.get_secret_value(),
                base_url=settings.langfuse_host,
                tracer_provider=self._provider,
                flush_interval=flush_interval,
                timeout=timeout,
            )
            self.enabled = True
        except Exception as exc:  # noqa: BLE001 - tracing is optional
            log.warning("tracing: Langfuse could not be set up (%s); tracing is off", exc.__class__.__name__)

    def request(self, name: str, *, session_id: str, message: str, history_turns: int,
                tags: tuple[str, ...] = ()) -> RequestTrace | _NullTrace:
        if not self.enabled:
            return NULL_TRACE
        return RequestTrace(self._client, name, session_id, message, history_turns, tags)

    def flush(self) -> None:
        """Deliver what is buffered (blocks up to the SDK's timeout; never on a request path)."""
        if self._client is not None:
            with _guarded("flush"):
                self._client.flush()

    def shutdown(self) -> None:
        if self._client is not None:
            with _guarded("shutdown"):
                self._client.shutdown()
            if self._provider is not None:
                with _guarded("shutdown"):
                    self._provider.shutdown()
            self._client = None
            self.enabled = False


class _NullTrace:
    """What a disabled tracer returns: every method does nothing."""

    enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def stage(self, record):
        return _NOTHING

    def callbacks(self, program) -> list:
        return []

    def finish(self, result=None, *, error: BaseException | None = None, status: int = 200) -> None:
        pass


NULL_TRACE = _NullTrace()


class RequestTrace:
    """One request's trace. Enter it, and run the program, in the thread that answers."""

    enabled = True

    def __init__(self, client, name: str, session_id: str, message: str, history_turns: int, tags):
        self._client = client
        self._name = name
        self._session_id = session_id
        self._input = {"message": _clip(message), "history_turns": history_turns}
        self._tags = ["service", *tags]
        self._stack = ExitStack()
        self._root = None
        self._stages: list[dict] = []  # {"name", "span", "end_ns", "tokens", "error"}
        self._lock = threading.Lock()
        self._finished = False

    # -- the root span ---------------------------------------------------------------------

    def __enter__(self):
        with _guarded("starting the trace"):
            from langfuse import propagate_attributes

            self._stack.enter_context(_empty_otel_context())  # a new trace, whatever span is ambient
            self._root = self._stack.enter_context(
                self._client.start_as_current_observation(as_type="span", name=self._name, input=self._input)
            )
            self._stack.enter_context(
                propagate_attributes(session_id=self._session_id, tags=self._tags, trace_name=self._name)
            )
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and not self._finished:
            self.finish(error=exc, status=500)
        with _guarded("ending the trace"):
            self._stack.__exit__(None, None, None)
        return False

    # -- stages (the program's stage observer) ---------------------------------------------

    @contextmanager
    def stage(self, stage) -> Iterator[None]:
        name = stage.name
        record = {"name": name, "span": None, "end_ns": None, "tokens": 0, "error": None, "stage": stage}
        context = None
        with _guarded(f"opening the {name} span"):
            context = self._client.start_as_current_observation(
                as_type=STAGE_TYPES.get(name, "span"), name=name, end_on_exit=False
            )
            record["span"] = context.__enter__()
        with _guarded("reading LM usage"):
            record["tokens"] = -_tokens_so_far()
        with self._lock:
            self._stages.append(record)
        try:
            yield
        except BaseException as exc:
            record["error"] = exc
            raise
        finally:
            record["end_ns"] = time.time_ns()
            with _guarded("reading LM usage"):
                record["tokens"] += _tokens_so_far()
            if context is not None:
                with _guarded(f"leaving the {name} span"):
                    context.__exit__(None, None, None)  # detaches it; it is ended in finish()

    # -- LM calls (DSPy callbacks) ---------------------------------------------------------

    def callbacks(self, program) -> list:
        """DSPy callbacks that record each predictor call as a `generation` observation."""
        try:
            return [_generation_callback_class()(self._client, program)]
        except Exception as exc:  # noqa: BLE001
            log.warning("tracing: LM call tracing unavailable (%s)", exc.__class__.__name__)
            return []

    # -- the end ---------------------------------------------------------------------------

    def finish(self, result=None, *, error: BaseException | None = None, status: int = 200) -> None:
        """Attach the stages' outputs and end them; then describe the outcome on the root."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            stages = list(self._stages)
        for record in stages:
            span = record["span"]
            if span is None:
                continue
            with _guarded(f"ending the {record['name']} span"):
                stage = record["stage"]
                failed = record["error"]
                metadata = {"lm_tokens": max(0, record["tokens"]), "latency_ms": stage.ms}
                span.update(
                    input=_json(stage.inputs), output=_json(stage.outputs), metadata=metadata,
                    level="ERROR" if failed is not None else None,
                    status_message=failed.__class__.__name__ if failed is not None else None,
                )
                span.end(end_time=record["end_ns"] or time.time_ns())
        if self._root is None:
            return
        with _guarded("describing the trace"):
            if result is not None:
                body = result.to_json(full=True)
                self._root.update(
                    output={"response": _clip(body["text"]), "sources": body["sources"], "degraded": body["degraded"]},
                    metadata={
                        "status": status,
                        "language": body["language"],
                        "label": (body["plan"] or {}).get("label"),
                        "kind": body["kind"],
                        "timings_ms": body["timings_ms"],
                        "lm_calls": body["lm_calls"],
                        "lm_fallbacks": body["lm_fallbacks"],
                        "lm_tokens": sum(max(0, r["tokens"]) for r in stages),
                    },
                    level="WARNING" if body["degraded"] else None,
                )
            else:
                self._root.update(
                    metadata={"status": status},
                    level="ERROR",
                    status_message=error.__class__.__name__ if error is not None else "error",
                )


@contextmanager
def _empty_otel_context() -> Iterator[None]:
    from opentelemetry import context as otel_context

    token = otel_context.attach(otel_context.Context())
    try:
        yield
    finally:
        otel_context.detach(token)


def _json(value: Any) -> Any:
    """A stage's input or output as trace data: the records' own JSON, texts clipped."""
    if hasattr(value, "to_json"):
        value = value.to_json()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return _clip(value)


_CALLBACK_CLASS = None


def _usage_so_far() -> tuple[int, int]:
    """(input, output) tokens recorded so far by the running program's usage tracker."""
    import dspy

    tracker = dspy.settings.usage_tracker
    if tracker is None:
        return 0, 0
    inputs = outputs = 0
    for per_model in tracker.get_total_tokens().values():
        inputs += int(per_model.get("prompt_tokens") or per_model.get("input_tokens") or 0)
        outputs += int(per_model.get("completion_tokens") or per_model.get("output_tokens") or 0)
    return inputs, outputs


def _generation_callback_class():
    """A DSPy callback (defined on first use, so importing this module does not import DSPy)."""
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is not None:
        return _CALLBACK_CLASS
    from dspy.utils.callback import BaseCallback

    class GenerationCallback(BaseCallback):
        """Each predictor call of the program → a `generation` under the current stage span."""

        def __init__(self, client, program):
            self._client = client
            self._names = {id(p): name for name, p in program.named_predictors()}
            self._open: dict[str, tuple[Any, tuple[int, int]]] = {}

        def on_module_start(self, call_id, instance, inputs):
            name = self._names.get(id(instance))
            if name is None:
                return
            import dspy

            fields = inputs.get("kwargs", inputs) if isinstance(inputs, dict) else {}
            span = self._client.start_observation(
                as_type="generation", name=name, model=getattr(dspy.settings.lm, "model", None),
                input={k: _clip(v) for k, v in fields.items()},
            )
            self._open[call_id] = (span, _usage_so_far())

        def on_module_end(self, call_id, outputs, exception=None):
            opened = self._open.pop(call_id, None)
            if opened is None:
                return
            span, (in_before, out_before) = opened
            in_now, out_now = _usage_so_far()
            usage = {"input": max(0, in_now - in_before), "output": max(0, out_now - out_before)}
            usage["total"] = usage["input"] + usage["output"]
            output = None
            if outputs is not None:
                try:
                    output = {k: _clip(v) for k, v in outputs.items()}
                except Exception:  # noqa: BLE001 - not a mapping
                    output = None
            span.update(
                output=output, usage_details=usage,
                level="ERROR" if exception is not None else None,
                status_message=exception.__class__.__name__ if exception is not None else None,
            )
            span.end()

    _CALLBACK_CLASS = GenerationCallback
    return GenerationCallback
