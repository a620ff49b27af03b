"""What the service tests share: workbenches built from fakes, settings, and a real uvicorn."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dspy
import httpx

from pipeline.factory import Workbench
from pipeline.params import ProgramParams
from pipeline.persona import Persona, SiteLink
from pipeline.program import DigitalTwin
from pipeline.providers.base import LMCapabilities
from pipeline.settings import Settings

PERSONA = Persona(
    name="Mina Park",
    native_name="박민아",
    site_map=[SiteLink(label="Education", href="/cv/education"), SiteLink(label="Papers", href="/papers")],
)
CAPABLE = LMCapabilities(languages=frozenset({"en", "ko"}), can_plan=True, can_abstract=True, local=False)
LOCAL = LMCapabilities()


def service_settings(tmp_path, **overrides) -> Settings:
    """No .env, no keys, generous limits unless a test sets its own."""
    values = dict(
        _env_file=None,
        cache_dir=tmp_path / "dspy-cache",
        index_dir=tmp_path / "index",
        program_path=Path("none"),  # the unoptimized program
        lm_cache=False,
        rate_limit_session=0,
        rate_limit_ip=0,
    )
    values.update(overrides)
    return Settings(**values)


def planner_script(answer="I studied robotics at Zephyr Institute, see Education.", relevant=True,
                   needs_retrieval=True, doc_types=("education",), query=None):
    """Scripted JSON for every signature of the program (a capable LM that always agrees)."""

    def script(text):
        return {
            "relevant": relevant,
            "needs_retrieval": needs_retrieval,
            "doc_types": list(doc_types),
            "answer": answer,
            "standalone_query": query or "",
            "lead": "Here is what my site says:",
        }

    return script


def fake_lm(engine, **kwargs):
    return dspy.LM("fake/model", engine=engine, cache=False, num_retries=kwargs.pop("num_retries", 0), **kwargs)


def make_workbench(store, embedder, lm, settings: Settings, *, capabilities=CAPABLE, persona=PERSONA) -> Workbench:
    """The real program on the given providers (what `build_workbench` makes, minus the factory)."""
    params = ProgramParams()
    params.planner.relevance_min_score = 0.0  # calibrated for e5; hash vectors score lower
    program = DigitalTwin(store, embedder, persona, capabilities, params, doc_types=store.doc_types())
    program.warm_up()
    return Workbench(settings, embedder, store, persona, program, lm, "test")


def asgi_client(app, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", **kwargs)


def chat_body(message="Where did you study robotics?", history=None, session_id=None) -> dict:
    body = {"message": message, "history": history or []}
    if session_id is not None:
        body["sessionId"] = session_id
    return body


def parse_sse(text: str) -> list[tuple[str, dict]]:
    """(event, JSON data) of each event in a text/event-stream body (comments skipped)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((event, json.loads("\n".join(data))))
    return events


@contextlib.contextmanager
def live_server(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Real uvicorn on 127.0.0.1 (a free port, or `port`), in a thread, configured as `workbench serve`
    runs it (the service's own request lines, its JSON framing errors); yields its base URL."""
    import uvicorn

    from service.framing import JSONErrorH11Protocol

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False,
                            access_log=False, http=JSONErrorH11Protocol)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)



class StreamingEngine:
    """A ScriptedEngine that also streams: the JSON reply in small pieces, as a provider would.

    `delay` sleeps before each call (and between streamed pieces) to make work observable."""

    supports_response_schema = True
    supports_streaming = True
    supported_params = {"response_format", "max_tokens", "temperature"}

    def __init__(self, script, piece: int = 7, delay: float = 0.0):
        from tests.fakes import ScriptedEngine

        self._scripted = ScriptedEngine(script)
        self.piece = piece
        self.delay = delay
        self.requests = self._scripted.requests  # calls that finished
        self.started = 0  # calls that began
        self.stream_calls = 0  # calls answered as a stream
        self.streamed: list[str] = []

    def complete(self, request):
        self.started += 1
        time.sleep(self.delay)
        return self._scripted.complete(request)

    def stream(self, request):
        from dspy import lm15

        self.stream_calls += 1
        response = self.complete(request)
        text = response.message.text or ""
        yield lm15.StreamStartEvent(id=response.id, model=request.model)
        for start in range(0, len(text), self.piece):
            chunk = text[start:start + self.piece]
            self.streamed.append(chunk)
            yield lm15.StreamDeltaEvent(lm15.TextDelta(chunk))
            time.sleep(self.delay / 10)
        yield lm15.StreamEndEvent(finish_reason="stop", usage=response.usage)

    def close(self):
        pass
