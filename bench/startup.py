"""Start-up: seconds from `workbench serve` to the first answered request, and peak memory.

`workbench serve` is started as a child process on 127.0.0.1 on the embedded defaults with an
existing index and an empty LM cache, so the first answer pays for loading every model the
served program uses (and for a real LM call when the program makes one). The clock runs from spawning the process to the first 200 from
`POST /api/chat`. Then a few more questions are asked and the service's peak resident
memory (VmHWM) is read from /proc.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.processes import embedded_env, free_port, stop
from bench.service_overhead import QUESTIONS

_ROOT = Path(__file__).resolve().parent.parent


def workbench_command() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [sys.executable, str(_ROOT / "workbench.py")]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (Linux /proc), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run(index_dir: Path, questions: int = 8, timeout: float = 300.0) -> dict:
    """Spawn `workbench serve`, time the first answer, ask `questions` more, read peak RSS."""
    import httpx

    cache = Path(tempfile.mkdtemp(prefix="bench-startup-cache-"))
    port = free_port()
    env = embedded_env(RAG_CACHE_DIR=str(cache), RAG_RATE_LIMIT_SESSION="0", RAG_RATE_LIMIT_IP="0")
    command = [*workbench_command(), "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/api/chat"
    body = {"message": QUESTIONS[0], "history": [], "sessionId": "bench-startup"}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        first_s = None
        while first_s is None:
            if child.poll() is not None:
                raise RuntimeError(f"`workbench serve` exited ({child.returncode}): "
                                   f"{((child.stderr.read() if child.stderr else '') or '').strip()[-800:]}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"`workbench serve` did not answer within {timeout:.0f} s")
            try:
                response = httpx.post(url, json=body, timeout=60)
                if response.status_code == 200:
                    first_s = time.perf_counter() - started
                    continue
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        rss_first = peak_rss_mb(child.pid)
        answered = 1
        for question in QUESTIONS[1 : 1 + questions]:
            response = httpx.post(url, json={**body, "message": question}, timeout=60)
            answered += response.status_code == 200
        rss = peak_rss_mb(child.pid)
    finally:
        stop(child)
        shutil.rmtree(cache, ignore_errors=True)
    return {"cold_start_s": round(first_s, 2), "rss_mb": rss, "rss_after_first_mb": rss_first,
            "answered": answered, "asked": 1 + len(QUESTIONS[1 : 1 + questions])}
