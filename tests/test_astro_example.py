"""examples/astro: the proxy route's relay, run by Node against the real service on uvicorn.

What the page sees through the proxy must be what the service says: the same status codes, the
same `{"error": ...}` bodies, Retry-After, and the event stream; the proxy's own failures use
the same shape. The routes read RAG_SERVICE_URL and RAG_API_KEY from the running server's
environment, not from the build (Astro 5 inlines `import.meta.env`). The widget puts the
visitor's text into the page as text. (Needs `node` ≥ 20 on PATH, as an Astro site does.)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

import service
from tests.fakes import ScriptedEngine
from tests.servicekit import fake_lm, live_server, make_workbench, parse_sse, planner_script, service_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "astro"
KEY = "proxy-secret-3e9a51"
JSON_TYPE = {"content-type": "application/json"}


def run_relay(scenarios: list[dict]) -> dict[str, dict]:
    node = shutil.which("node")
    assert node, "node is needed for the Astro example's test"
    # the relay's settings are only what each scenario says, never this process's environment
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_SERVICE_URL", "RAG_API_KEY")}
    done = subprocess.run([node, "test/relay-check.mjs"], cwd=EXAMPLE, input=json.dumps(scenarios),
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.slow
def test_the_relay_answers_what_the_service_answers(mini_index, hash_embedder, tmp_path):
    # four tokens a minute per visitor: a question of 29 characters costs 1.145 (1, plus 1 per 200 characters)
    settings = service_settings(tmp_path, api_key=KEY, rate_limit_ip=4)
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())), settings)
    requests = [
        ("invalid JSON", {"body": '{"message": ', "headers": JSON_TYPE}),
        ("invalid UTF-8", {"bodyBase64": base64.b64encode(b'{"message": "caf\xe9"}').decode(), "headers": JSON_TYPE}),
        ("wrong content type", {"body": '{"message": "hi"}', "headers": {"content-type": "text/plain"}}),
        ("empty message", {"body": '{"message": "  "}', "headers": JSON_TYPE}),
        ("history with a bad role", {"body": json.dumps({"message": "hi", "history": [
            {"role": "system", "parts": [{"text": "t"}]}]}), "headers": JSON_TYPE}),
    ]
    with live_server(service.create_app(workbench, settings=settings)) as url:
        options = {"serviceUrl": url, "apiKey": KEY, "path": "/api/chat"}
        scenarios = [{"name": name, "options": {**options, "clientAddress": f"198.51.100.{i}"}, **req}
                     for i, (name, req) in enumerate(requests)]
        chat = {"body": json.dumps({"message": "Where did you study robotics?", "sessionId": "via-proxy"}),
                "headers": JSON_TYPE}
        scenarios += [
            {"name": "answer", "options": {**options, "clientAddress": "203.0.113.1"}, **chat},
            {"name": "stream", "options": {**options, "path": "/api/chat/stream", "clientAddress": "203.0.113.2"},
             **chat},
            # three questions per visitor address: the fourth from 203.0.113.3 is limited, another visitor is not
            *[{"name": f"visitor 3 #{n}", "options": {**options, "clientAddress": "203.0.113.3"}, **chat}
              for n in range(4)],
            {"name": "visitor 4", "options": {**options, "clientAddress": "203.0.113.4"}, **chat},
            {"name": "wrong key", "options": {**options, "apiKey": "not-the-key"}, **chat},
            {"name": "too large for the proxy", "options": {**options, "maxBodyBytes": 64},
             "body": json.dumps({"message": "x" * 100}), "headers": JSON_TYPE},
            {"name": "service down", "options": {**options, "serviceUrl": closed_port_url()}, **chat},
            {"name": "not configured", "options": {**options, "serviceUrl": ""}, **chat},
        ]
        relayed = run_relay(scenarios)

        # the client mistakes: exactly the service's status and body
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}) as direct:
            for i, (name, req) in enumerate(requests):
                content = base64.b64decode(req["bodyBase64"]) if "bodyBase64" in req else req["body"].encode()
                expected = direct.post("/api/chat", content=content,
                                       headers={**req["headers"], "X-Forwarded-For": f"192.0.2.{i}"})
                got = relayed[name]
                assert (got["status"], json.loads(got["body"])) == (expected.status_code, expected.json()), name
                assert expected.status_code in (400, 415, 422)

    answer = relayed["answer"]
    assert answer["status"] == 200 and answer["contentType"].startswith("application/json")
    body = json.loads(answer["body"])
    assert body["sessionId"] == "via-proxy" and body["sources"] and "Education</a>" in body["response"]

    stream = relayed["stream"]
    assert stream["status"] == 200 and stream["contentType"].startswith("text/event-stream")
    events = parse_sse(stream["body"])
    assert events[0][0] == "start" and events[-1][0] == "final"
    assert events[-1][1]["response"] == body["response"]

    visitor3 = [relayed[f"visitor 3 #{n}"]["status"] for n in range(4)]
    assert visitor3 == [200, 200, 200, 429] and int(relayed["visitor 3 #3"]["retryAfter"]) >= 1
    assert "too many requests" in json.loads(relayed["visitor 3 #3"]["body"])["error"]
    assert relayed["visitor 4"]["status"] == 200  # the proxy's own address is not what is limited

    assert relayed["wrong key"]["status"] == 401 and "API key" in json.loads(relayed["wrong key"]["body"])["error"]
    for name, status in (("too large for the proxy", 413), ("service down", 503), ("not configured", 503)):
        got = relayed[name]
        assert got["status"] == status and set(json.loads(got["body"])) == {"error"}, name
        assert got["contentType"] == "application/json"
    assert int(relayed["service down"]["retryAfter"]) >= 1


@pytest.mark.slow
def test_the_routes_read_their_settings_at_run_time(mini_index, hash_embedder, tmp_path):
    """The routes as `astro build` leaves them (import.meta.env.X inlined with its build-time value),
    with RAG_SERVICE_URL and RAG_API_KEY only in the running relay's environment, set after the
    route was loaded: as a host sets them. Before, a build without them answered 503."""
    settings = service_settings(tmp_path, api_key=KEY, rate_limit_ip=1)
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())), settings)
    chat = {"body": json.dumps({"message": "Where did you study robotics?", "sessionId": "run-time"}),
            "headers": JSON_TYPE}
    with live_server(service.create_app(workbench, settings=settings)) as url:
        run_time = {"RAG_SERVICE_URL": url, "RAG_API_KEY": KEY}
        stale = {"RAG_SERVICE_URL": closed_port_url(), "RAG_API_KEY": "key-of-the-build"}
        routes = {"chat": "src/pages/api/chat.ts", "stream": "src/pages/api/chat/stream.ts"}
        relayed = run_relay([
            {"name": "chat", "route": routes["chat"], "env": run_time, "clientAddress": "203.0.113.10", **chat},
            {"name": "stream", "route": routes["stream"], "env": run_time, "clientAddress": "203.0.113.11", **chat},
            # one a minute per visitor: the route forwards the visitor's address with the key
            {"name": "same visitor", "route": routes["chat"], "env": run_time, "clientAddress": "203.0.113.10",
             **chat},
            {"name": "over a stale build", "route": routes["chat"], "buildEnv": stale, "env": run_time,
             "clientAddress": "203.0.113.12", **chat},
            # `astro dev`: .env is in import.meta.env, not in process.env
            {"name": "dev", "route": routes["chat"], "buildEnv": run_time, "clientAddress": "203.0.113.13", **chat},
            {"name": "not configured", "route": routes["chat"], "clientAddress": "203.0.113.14", **chat},
            {"name": "run-time key missing", "route": routes["chat"], "env": {"RAG_SERVICE_URL": url},
             "clientAddress": "203.0.113.15", **chat},
        ])

    for name in ("chat", "over a stale build", "dev"):
        got = relayed[name]
        assert got["status"] == 200 and got["contentType"].startswith("application/json"), (name, got)
        body = json.loads(got["body"])
        assert body["sessionId"] == "run-time" and "Education</a>" in body["response"], name
    stream = relayed["stream"]
    assert stream["status"] == 200 and stream["contentType"].startswith("text/event-stream"), stream
    assert parse_sse(stream["body"])[-1][0] == "final"
    assert relayed["same visitor"]["status"] == 429
    got = relayed["not configured"]
    assert got["status"] == 503 and "not configured" in json.loads(got["body"])["error"]
    assert relayed["run-time key missing"]["status"] == 401


def test_the_widget_puts_the_visitors_text_in_as_text():
    """test/widget.test.mjs: `<img src=x onerror=...>` typed by the visitor is text in the page,
    the service's answer is HTML; the history is Gemini's format, at most 50 entries."""
    node = shutil.which("node")
    assert node, "node is needed for the Astro example's test"
    done = subprocess.run([node, "--test", "test/widget.test.mjs"], cwd=EXAMPLE,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
