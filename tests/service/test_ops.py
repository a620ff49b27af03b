"""What an operator sees: one log line per request (text or JSON, never the visitor's words),
and malformed HTTP framing answered in the service's JSON, over a raw socket."""

from __future__ import annotations

import io
import json
import logging
import socket
from urllib.parse import urlparse

import pytest

import service
from service import logs
from tests.fakes import ScriptedEngine
from tests.servicekit import (
    asgi_client,
    chat_body,
    fake_lm,
    live_server,
    make_workbench,
    planner_script,
    service_settings,
)

pytestmark = pytest.mark.anyio
SECRET_WORDS = "zanzibar-7781 quokka"  # in the visitor's message: must never reach a log
KEY = "proxy-secret-8c1f-ops"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def workbench(mini_index, hash_embedder, tmp_path):
    return make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())),
                          service_settings(tmp_path))


def access_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "service.access"]


async def test_a_request_is_one_line_with_its_timings_and_without_the_visitors_text(workbench, caplog):
    from pydantic import SecretStr

    settings = workbench.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with caplog.at_level(logging.DEBUG):
        async with asgi_client(service.create_app(workbench, settings=settings),
                               headers={"X-API-Key": KEY}) as client:
            response = await client.post("/api/chat?via=widget", json=chat_body(f"Where did you study? {SECRET_WORDS}",
                                                                               session_id="visitor-session-991"))
            assert response.status_code == 200
            [line] = access_lines(caplog)
            text = line.getMessage()
            assert text.startswith("POST /api/chat 200 ") and " ms stages " in text and text.endswith("degraded=-")
            assert {"embed", "retrieve", "generate"} <= set(line.fields["stages"])
            assert line.fields["status"] == 200 and line.fields["ms"] > 0 and "via=widget" not in text

            caplog.clear()
            await client.post("/api/chat/stream", json=chat_body(SECRET_WORDS))
            await client.post("/api/chat", json={"message": ""})
            await client.get("/health")
            lines = [r.getMessage() for r in access_lines(caplog)]
            assert lines[0].startswith("POST /api/chat/stream 200 ") and " stages " in lines[0]
            assert lines[1].startswith("POST /api/chat 422 ") and " stages " not in lines[1]
            assert lines[2].startswith("GET /health 200 ") and len(lines) == 3
    for secret in (*SECRET_WORDS.split(), "visitor-session-991", KEY):
        assert secret not in caplog.text


async def test_a_degraded_answer_says_so_in_its_line(workbench, caplog):
    workbench.program.retrieve.store = None  # any search fails: the retrieval stage raises
    with caplog.at_level(logging.INFO):
        async with asgi_client(service.create_app(workbench)) as client:
            body = (await client.post("/api/chat", json=chat_body())).json()
    assert body["degraded"] == "retrieval"
    [line] = access_lines(caplog)
    assert line.getMessage().endswith("degraded=retrieval") and line.fields["degraded"] == "retrieval"


async def test_json_lines_with_time_and_level(workbench):
    stream = io.StringIO()
    handler = logs.configure("json", stream=stream)
    try:
        async with asgi_client(service.create_app(workbench)) as client:
            await client.post("/api/chat", json=chat_body(SECRET_WORDS))
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    [request] = [r for r in records if r["logger"] == "service.access"]
    assert request["level"] == "INFO" and request["time"].endswith("+00:00")
    assert request["method"] == "POST" and request["path"] == "/api/chat" and request["status"] == 200
    assert request["ms"] > 0 and request["stages"]["embed"] >= 0 and request["degraded"] is None
    assert SECRET_WORDS.split()[0] not in stream.getvalue()


def test_text_lines_have_a_timestamp_and_level():
    stream = io.StringIO()
    handler = logs.configure("text", stream=stream)
    try:
        logs.request_line("POST", "/api/chat", 200, 12.3, {"stages": {"embed": 5.0}, "degraded": None})
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert " INFO service.access: POST /api/chat 200 12 ms stages embed=5.0 degraded=-" in line
    assert line[:4].isdigit() and line[4] == "-"  # 2025-…


# -- malformed framing, over a raw socket ---------------------------------------------------------


def raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("name, request_bytes", [
    ("negative Content-Length", b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: -1\r\n\r\n{}"),
    ("bad chunk size", b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    ("broken request line", b"POST /api/chat HTTP/1.1 extra\r\nHost: x\r\n\r\n"),
])
def test_malformed_framing_is_a_json_400(workbench, name, request_bytes):
    with live_server(service.create_app(workbench)) as url:
        status, headers, body = raw(url, request_bytes)
    assert status == 400 and headers["content-type"] == "application/json", (name, headers, body)
    assert int(headers["content-length"]) == len(body)
    assert "not valid HTTP" in json.loads(body)["error"]
