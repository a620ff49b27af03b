"""Child processes of the benchmarks: a free port, a clean environment, a certain stop."""

from __future__ import annotations

import os
import socket
import subprocess

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
