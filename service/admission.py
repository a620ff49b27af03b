"""Admission: the bounded queue, the worker pool shared fairly between clients, deadlines, and
what a failure becomes.

The event loop never runs the pipeline. A request is admitted while fewer than
`RAG_WORKER_THREADS + RAG_LM_QUEUE_DEPTH` are in flight (else 503) and its client has fewer than
`RAG_CLIENT_CONCURRENCY + RAG_CLIENT_QUEUE_DEPTH` (else 429); it then waits for a worker. A
client holds at most `RAG_CLIENT_CONCURRENCY` workers, and a freed worker goes to the next client
in turn, so one client's burst queues behind itself instead of in front of everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable
from contextlib import ExitStack, contextmanager

import anyio

from pipeline.settings import Settings
from service.errors import Cancelled, ServiceError

log = logging.getLogger("service")

RETRIEVAL_STAGES = ("embed", "retrieve")


class FairPool:
    """`workers` slots; at most `per_client` per client; a freed slot goes round-robin to the
    clients that wait (the one served longest ago first), each client's requests in order.
    Used from the event loop only (threads release through `call_soon_threadsafe`)."""

    def __init__(self, workers: int, per_client: int):
        self.workers = workers
        self.per_client = per_client
        self.busy = 0
        self._running: dict[str, int] = {}
        self._waiting: OrderedDict[str, deque[asyncio.Future]] = OrderedDict()

    def _may_run(self, key: str) -> bool:
        return self._running.get(key, 0) < self.per_client

    async def acquire(self, key: str) -> None:
        if self.busy < self.workers and self._may_run(key) and key not in self._waiting:
            self._grant(key)
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(future)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(key)  # granted just as the wait was given up
            else:
                self._forget(key, future)
            raise

    def release(self, key: str) -> None:
        self.busy -= 1
        left = self._running.get(key, 1) - 1
        if left > 0:
            self._running[key] = left
        else:
            self._running.pop(key, None)
        self._dispatch()

    def _grant(self, key: str) -> None:
        self.busy += 1
        self._running[key] = self._running.get(key, 0) + 1

    def _forget(self, key: str, future: asyncio.Future) -> None:
        queue = self._waiting.get(key)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[key]

    def _dispatch(self) -> None:
        while self.busy < self.workers:
            key = next((k for k in self._waiting if self._may_run(k)), None)
            if key is None:
                return
            queue = self._waiting.pop(key)
            future = queue.popleft()
            if queue:
                self._waiting[key] = queue  # to the back of the round
            if not future.done():  # a waiter cancelled a moment ago is skipped
                self._grant(key)
                future.set_result(None)


class Job:
    """One request's run of the pipeline, in a worker thread; stoppable at stage boundaries.
    It keeps the workbench it was admitted with: a reload swaps the runner's, not this one."""

    def __init__(self, runner: Runner, message: str, history: list[dict], session_id: str, kind: str,
                 queue_key: str):
        self.runner = runner
        self.workbench = runner.workbench
        self.message = message
        self.history = history
        self.session_id = session_id
        self.kind = kind
        self.queue_key = queue_key
        self.stage: str | None = None
        self.stages: set[str] = set()
        self.status = 200
        self._cancelled = threading.Event()
        self._reason = ""
        self._state = threading.Lock()
        self._running = False
        self._dropped = False
        self._release: Callable[[], object] | None = None

    # -- the worker it holds: returned when the thread ends, not when the request gives up --

    def hold(self, release: Callable[[], object]) -> None:
        self._release = release

    def _let_go(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def drop(self) -> None:
        """The request stopped waiting: a job whose thread never began gives its worker back now."""
        with self._state:
            if self._running:
                return  # the thread gives it back when it stops
            self._dropped = True
        self._let_go()

    def cancel(self, reason: str, status: int) -> None:
        self._reason = reason
        self.status = status
        self._cancelled.set()

    @contextmanager
    def _observe(self, trace, record):
        """At each stage's start (the program's stage observer): stop if nobody waits, open its span."""
        if self._cancelled.is_set():
            raise Cancelled(self._reason)
        self.stage = record.name
        self.stages.add(record.name)
        with trace.stage(record):
            yield

    def run(self):
        """The worker thread's body: trace, stage observer, the program."""
        with self._state:
            if self._dropped:
                raise Cancelled(self._reason or "nobody is waiting")
            self._running = True
        try:
            return self._run()
        finally:
            self._let_go()

    def _run(self):
        import dspy

        workbench = self.workbench
        trace = self.runner.tracer.request(
            "chat" if self.kind == "json" else "chat.stream", session_id=self.session_id,
            message=self.message, history_turns=len(self.history), tags=(self.kind,),
        )
        with trace:
            try:
                with ExitStack() as stack:
                    callbacks = trace.callbacks(workbench.program)
                    if callbacks:
                        stack.enter_context(dspy.context(callbacks=[*dspy.settings.callbacks, *callbacks]))
                    result = workbench.answer(self.message, self.history,
                                              observer=lambda record: self._observe(trace, record))
            except BaseException as exc:
                trace.finish(error=exc, status=self.status if isinstance(exc, Cancelled) else _status_of(exc))
                raise
            trace.finish(result, status=200)
            return result


def lm_streams(lm) -> bool:
    """Whether the LM can stream tokens: a provider model string (Gemini, LiteLLM) can; a
    custom engine object only when it declares `supports_streaming = True` (the local
    llama.cpp engine does not: its answers are composed, then sent as deltas)."""
    engine = getattr(lm, "engine", None)
    if engine is None or isinstance(engine, str):
        return True
    return bool(getattr(engine, "supports_streaming", False))


def _status_of(exc: BaseException) -> int:
    from pipeline.program import LMUnavailableError
    from pipeline.providers.base import ProviderError

    return 503 if isinstance(exc, (LMUnavailableError, ProviderError)) else 500


def _retry_after_of(error: BaseException, default: float = 5.0) -> float:
    """A provider's Retry-After hint found on the exception chain, else `default` (1-60 s)."""
    seen, exc = 0, error
    exc_: BaseException | None = exc
    while exc_ is not None and seen < 8:
        exc = exc_
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, (int, float)) and math.isfinite(hint) and hint > 0:
            return min(60.0, max(1.0, float(hint)))
        exc_ = exc.__cause__ or exc.__context__
        seen += 1
    return default


class Runner:
    """Admission, the fair worker pool, deadlines, and error mapping, for the served workbench."""

    def __init__(self, workbench, settings: Settings, tracer):
        self.settings = settings
        self.tracer = tracer
        self.pool = FairPool(settings.worker_threads, settings.client_concurrency)
        self.capacity = settings.worker_threads + settings.lm_queue_depth
        self.per_client = settings.client_concurrency + settings.client_queue_depth
        self.in_flight = 0
        self._in_flight_by: dict[str, int] = {}
        self._latencies: deque[float] = deque(maxlen=64)
        self.workbench = workbench
        # what the served state hears about the index: a search that failed, one that worked
        self.on_retrieval: Callable[[BaseException | None], None] = lambda failure: None

    def serve(self, workbench) -> None:
        """Requests admitted from now on run on `workbench`; running ones finish on theirs."""
        self.workbench = workbench

    def job(self, message: str, history: list[dict], session_id: str, kind: str, queue_key: str) -> Job:
        return Job(self, message, history, session_id, kind, queue_key)

    # -- admission ---------------------------------------------------------------------------

    @contextmanager
    def admitted(self, key: str):
        if self.in_flight >= self.capacity:
            raise ServiceError(503, "the service is busy: too many questions are waiting, try again shortly",
                               self._wait(self.in_flight, self.settings.worker_threads))
        mine = self._in_flight_by.get(key, 0)
        if mine >= self.per_client:
            raise ServiceError(429, "too many questions at once from this client: wait for the answers",
                               self._wait(mine, self.settings.client_concurrency))
        self.in_flight += 1
        self._in_flight_by[key] = mine + 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.in_flight -= 1
            left = self._in_flight_by.pop(key) - 1
            if left:
                self._in_flight_by[key] = left
            self._latencies.append(time.perf_counter() - started)

    def _wait(self, ahead: int, workers: int) -> float:
        typical = sorted(self._latencies)[len(self._latencies) // 2] if self._latencies else 1.0
        return min(30.0, max(1.0, typical * ahead / workers))

    async def take_worker(self, job: Job) -> None:
        """Wait for a worker (this is the queue); the job's thread gives it back when it ends."""
        await self.pool.acquire(job.queue_key)
        loop = asyncio.get_running_loop()
        job.hold(lambda: loop.call_soon_threadsafe(self.pool.release, job.queue_key))

    # -- outcomes ------------------------------------------------------------------------------

    def finished(self, job: Job, result) -> None:
        if "retrieve" in job.stages and not getattr(result, "degraded", None):
            self.on_retrieval(None)

    def failure(self, job: Job, exc: BaseException):
        """What an exception from the pipeline becomes: a `ServiceError`, or the degraded answer (`Workbench.unavailable`)
        when the index itself failed while being searched (deleted, rebuilt, unreadable)."""
        from pipeline.program import LMUnavailableError
        from pipeline.providers.base import ProviderError

        if isinstance(exc, ServiceError):
            return exc
        if isinstance(exc, LMUnavailableError):
            log.warning("chat: the LM is unavailable (%s)", exc.__cause__.__class__.__name__ if exc.__cause__ else "-")
            return ServiceError(503, "the language model is unavailable right now: try again shortly",
                                _retry_after_of(exc))
        if isinstance(exc, ProviderError):
            log.warning("chat: a provider failed: %s", exc)  # adapters' messages carry no keys
            return ServiceError(503, "a provider the answer needs is unavailable right now: try again shortly", 10)
        frames = "".join(traceback.format_tb(exc.__traceback__)[-6:])
        if job.stage in RETRIEVAL_STAGES and not isinstance(exc, Cancelled):
            log.error("chat: %s during %s (message withheld): answering without retrieval\n%s",
                      exc.__class__.__name__, job.stage, frames)
            self.on_retrieval(exc)
            return job.workbench.unavailable(job.message)
        log.error("chat: unexpected %s (message withheld)\n%s", exc.__class__.__name__, frames)
        return ServiceError(500, "something went wrong while answering: the error was logged")

    def on_deadline(self, job: Job):
        if job.stage in RETRIEVAL_STAGES:
            job.cancel("deadline", 200)
            log.warning("chat: deadline passed during %s: answering without retrieval", job.stage)
            return job.workbench.unavailable(job.message)
        job.cancel("deadline", 503)
        if job.stage is None:
            return ServiceError(503, "the service is busy: the question waited too long, try again shortly", 5)
        log.warning("chat: deadline passed during %s", job.stage)
        return ServiceError(503, "the answer took too long: try again shortly", 5)

    # -- the JSON answer (the stream is in service.streaming) ---------------------------------

    async def answer(self, job: Job):
        with self.admitted(job.queue_key):
            try:
                with anyio.move_on_after(self.settings.request_deadline_s) as scope:
                    await self.take_worker(job)
                    try:
                        result = await anyio.to_thread.run_sync(job.run, abandon_on_cancel=True)
                    except Exception as exc:  # noqa: BLE001 - mapped to a status or a degraded answer
                        outcome = self.failure(job, exc)
                        if isinstance(outcome, ServiceError):
                            raise outcome from None
                        return outcome
                    self.finished(job, result)
                    return result
            finally:
                job.drop()
            outcome = self.on_deadline(job) if scope.cancelled_caught else None
        if isinstance(outcome, ServiceError):
            raise outcome
        return outcome
