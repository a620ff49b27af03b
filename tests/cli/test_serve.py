"""`workbench serve` from a fresh checkout's point of view: no index yet, the embedded defaults."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(server: subprocess.Popen, url: str) -> httpx.Response:
    """/ready's 200, polled while the server process lives (at most 2 minutes: it loads the models)."""
    deadline, ready = time.monotonic() + 120, None
    while time.monotonic() < deadline and server.poll() is None:
        try:
            ready = httpx.get(f"{url}/ready", timeout=2)
            if ready.status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    assert ready is not None and ready.status_code == 200, server.stderr.read() if server.poll() else ready
    return ready


@pytest.mark.slow
@pytest.mark.model
def test_serve_ingests_a_missing_index_then_answers(tmp_path, mini_corpus):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "PINECONE_", "LANGFUSE_", "RAG_"))}
    env.update(RAG_CORPUS_DIR=str(mini_corpus), RAG_CACHE_DIR=str(tmp_path / "cache"),
               RAG_PROGRAM="none", LITELLM_LOCAL_MODEL_COST_MAP="True")
    index = tmp_path / "index"
    command = [sys.executable, "-m", "workbench", "serve", "--index", str(index), "--port", str(port)]
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        ready = wait_until_ready(server, url)
        assert ready.json()["index"]["chunks"] == 4 and ready.json()["providers"]["lm"] == "local"
        # a Korean question: the local LM is not asked (it cannot write Korean), so no model load
        answer = httpx.post(f"{url}/api/chat", json={"message": "군집 로봇 제어 논문에 대해 알려줘"}, timeout=60)
        assert answer.status_code == 200
        assert answer.json()["language"] == "ko" and answer.json()["sources"][0]["source"] == "papers.md"
        assert (index / "persona.json").exists()  # ingested, with the corpus's persona beside it
    finally:
        server.terminate()
        try:
            log = server.communicate(timeout=15)[1]
        except subprocess.TimeoutExpired:
            server.kill()
            log = server.communicate()[1]
    # one line per request, timestamped, with its stage timings; never the visitor's words
    [line] = [line for line in log.splitlines() if "POST /api/chat 200" in line]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO service.access: POST /api/chat 200 \d+ ms stages ", line)
    assert "degraded=-" in line and "군집" not in log and "로봇" not in log


@pytest.mark.slow
@pytest.mark.model
def test_uvicorn_service_app_serves_from_the_repository_root(tmp_path, mini_corpus):
    """The original system's entry point: `uvicorn service:app`, run where the checkout is."""
    from pipeline.factory import make_embedder, make_store, save_index_persona
    from pipeline.ingest import ingest
    from pipeline.settings import Settings

    index = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "PINECONE_", "LANGFUSE_", "RAG_"))}
    env.update(RAG_CORPUS_DIR=str(mini_corpus), RAG_INDEX_DIR=str(index), RAG_CACHE_DIR=str(tmp_path / "cache"),
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    settings = Settings(corpus_dir=mini_corpus, index_dir=index)
    ingest(mini_corpus, make_store(settings), make_embedder(settings))
    save_index_persona(settings, mini_corpus)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "service:app", "--port", str(port)], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(server, url)
        answer = httpx.post(f"{url}/api/chat", json={"message": "Where did you study robotics?", "history": []},
                            timeout=60)
        assert answer.status_code == 200 and answer.json()["sources"]
    finally:
        server.terminate()
        server.wait(timeout=30)
