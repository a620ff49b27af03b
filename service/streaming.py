"""POST /api/chat/stream: the same answer as Server-Sent Events.

`start` {sessionId} at once, `delta` {text} pieces of the answer (HTML-escaped), then `final`
(exactly the /api/chat body) or `error` {error, status, retryAfter}. With an LM that streams,
deltas come from `dspy.streamify` with a listener on the generate stage's `answer`; otherwise
the composed answer is sent in line- and word-aligned pieces before `final`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import anyio
from starlette.background import BackgroundTask

from service.admission import Job, Runner, lm_streams
from service.errors import ServiceError
from service.schemas import payload

_ANCHOR = re.compile(r'<a href="[^"]*">([^<]*)</a>')


def event_stream(runner: Runner, job: Job, done: Callable[[Any], None] | None = None):
    """The streaming response for a job; `done(result)` is told how it ended (None: with an
    error). Admission happens here, so a full queue is a plain 503 before the stream starts."""
    from sse_starlette import EventSourceResponse, ServerSentEvent

    admission = runner.admitted(job.queue_key)
    admission.__enter__()
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            admission.__exit__(None, None, None)

    send, receive = anyio.create_memory_object_stream[ServerSentEvent](16)

    async def emit(event: str, data: dict) -> None:
        await send.send(ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=event))

    async def produce() -> None:
        # runs in the response's task group: cancelled when the client disconnects
        async with send:
            try:
                result = await stream(runner, job, emit)
                if done is not None:
                    done(result)
            finally:
                release()

    return EventSourceResponse(
        receive, data_sender_callable=produce, background=BackgroundTask(release), ping=15,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def stream(runner: Runner, job: Job, emit: Callable[[str, dict], Any]):
    """Send `start`, `delta`*, then `final` or `error` through `await emit(event, data)`; the
    result sent as `final`, or None.

    A coroutine rather than a generator, so the deadline's cancel scope only ever wraps this
    task's own awaits. Admission is the caller's.
    """
    import dspy
    from dspy.streaming import StreamListener, StreamResponse

    await emit("start", {"sessionId": job.session_id})
    result = None
    streamed = False
    try:
        with anyio.move_on_after(runner.settings.request_deadline_s) as scope:
            try:
                if lm_streams(job.workbench.lm):
                    # only the generate stage's `answer` streams; every other LM call completes
                    listener = StreamListener("answer", predict=job.workbench.program.generate.predict,
                                              predict_name="generate.predict")
                    decoder = JSONStringPieces()
                    await runner.take_worker(job)
                    # the listener parses chunks on this side, with the adapter Workbench.answer uses
                    with dspy.context(adapter=dspy.JSONAdapter()):
                        streamer = dspy.streamify(_Program(job), stream_listeners=[listener])
                        async for value in streamer():
                            if isinstance(value, StreamResponse):
                                text = decoder.feed(value.chunk or "", last=value.is_last_chunk)
                                if text:
                                    streamed = True
                                    await emit("delta", {"text": html.escape(text, quote=True)})
                            elif isinstance(value, dspy.Prediction):
                                result = value.answer
                else:
                    await runner.take_worker(job)
                    result = await anyio.to_thread.run_sync(job.run, abandon_on_cancel=True)
                if result is not None:
                    runner.finished(job, result)
            except Exception as exc:  # noqa: BLE001 - becomes an error event, or a degraded answer
                outcome = runner.failure(job, exc)
                if isinstance(outcome, ServiceError):
                    await emit("error", outcome.event())
                    return None
                result, streamed = outcome, False
        if scope.cancelled_caught:
            outcome = runner.on_deadline(job)
            if isinstance(outcome, ServiceError):
                await emit("error", outcome.event())
                return None
            result, streamed = outcome, False
        if result is None:
            await emit("error", ServiceError(500, "something went wrong while answering").event())
            return None
        if not streamed:  # extractive answers, fixed replies, cache hits and degraded ones arrive whole
            for piece in pieces(_ANCHOR.sub(r"\1", result.html)):
                await emit("delta", {"text": piece})
        await emit("final", payload(result, job.session_id))
        return result
    finally:
        job.cancel("the client went away", 499)  # a no-op once finished; stops abandoned work
        job.drop()


class _Program:
    """What `dspy.streamify` wraps: the job, with no predictors of its own (the listener names one)."""

    def __init__(self, job: Job):
        self._job = job

    def named_predictors(self) -> list:
        return []

    def __call__(self):
        import dspy

        # streamify ends its stream on a Prediction; any other value would pass through and leave it open
        return dspy.Prediction(answer=self._job.run())


def pieces(escaped: str, size: int = 80) -> list[str]:
    """Escaped text in line- and word-aligned pieces (concatenated: the text again)."""
    out: list[str] = []
    for line in escaped.splitlines(keepends=True):
        while len(line) > size:
            cut = line.rfind(" ", 0, size)
            cut = size if cut <= 0 else cut + 1
            if "&" in line[max(0, cut - 6):cut]:  # never split an entity
                amp = line.rfind("&", 0, cut)
                cut = amp if amp > 0 else cut
            out.append(line[:cut])
            line = line[cut:]
        if line:
            out.append(line)
    return out


class JSONStringPieces:
    """Decodes a JSON string value arriving in pieces (what DSPy's listener yields for the
    JSON adapter: the raw value, opening quote first, escapes unresolved, closing quote last)
    into text, holding back an escape that is cut in two."""

    def __init__(self):
        self._raw = ""
        self._emitted = 0
        self._started = False

    def feed(self, chunk: str, last: bool = False) -> str:
        if not self._started:
            chunk = chunk.lstrip()
            if not chunk:
                return ""
            self._started = True
            chunk = chunk[1:] if chunk.startswith('"') else chunk
        self._raw += chunk
        raw = self._raw
        if last:
            stripped = raw.rstrip()
            if stripped.endswith('"') and _unescaped_end(stripped):
                raw = stripped[:-1]
            cut = len(raw)
        else:
            cut = _safe_prefix(raw)
        try:  # strict=False: models do put raw newlines inside JSON strings
            text = _LAX_JSON.decode('"' + raw[:cut] + '"')
        except ValueError:
            text = raw[:cut]  # not JSON-escaped after all: pass it through
        out = text[self._emitted:]
        self._emitted = len(text)
        return out


_LAX_JSON = json.JSONDecoder(strict=False)


def _unescaped_end(raw: str) -> bool:
    """Whether the final character of `raw` is not escaped by backslashes before it."""
    count = len(raw) - 1 - len(raw[:-1].rstrip("\\"))
    return count % 2 == 0


def _safe_prefix(raw: str) -> int:
    """The longest prefix of a JSON string body that ends on a whole character."""
    i, safe = 0, 0
    while i < len(raw):
        if raw[i] != "\\":
            i += 1
        elif i + 1 >= len(raw):
            break
        elif raw[i + 1] != "u":
            i += 2
        elif i + 6 > len(raw):
            break
        else:
            code = int(raw[i + 2:i + 6], 16) if all(c in "0123456789abcdefABCDEF" for c in raw[i + 2:i + 6]) else 0
            if 0xD800 <= code <= 0xDBFF:  # a surrogate pair needs its second half
                if i + 12 > len(raw):
                    break
                i += 12
            else:
                i += 6
        safe = i
    return safe
