"""Child processes of the benchmarks: a free port, a clean environment, a certain stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent

CLOUD_PREFIXES = ("LANGFUSE_", "GEMINI_", "PINECONE_", "RAG_")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(**overrides: str) -> dict[str, str]:
    """This process's environment without cloud keys or workbench settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLOUD_PREFIXES)}
    env.update(overrides)
    return env


def stop(child: subprocess.Popen, grace: float = 15.0) -> None:
    """Terminate `child`, and kill it if it is still there after `grace` seconds."""
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@contextmanager
def uvicorn_child(app_factory: str, env: dict[str, str], timeout: float = 180.0) -> Iterator[str]:
    """uvicorn serving `app_factory` ("module:function") in a child process on 127.0.0.1; yields its
    URL once `/ready` answers 200, and stops the child afterwards whatever happened."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app_factory, "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
               "--no-proxy-headers"]
    child = subprocess.Popen(command, cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the benchmark server exited ({child.returncode}): "
                                   f"{((child.stderr.read() if child.stderr else '') or '').strip()[-800:]}")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark server was not ready within {timeout:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        stop(child)
