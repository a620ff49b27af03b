"""A remote LM that fails or hangs, behind a real `dspy.LM` on loopback: the visitor still gets the
site's answer, and no LM call starts after it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dspy
import pytest

from pipeline.program import DigitalTwin
from pipeline.providers.base import LMCapabilities
from tests.pipeline.test_program import PERSONA

CAPABLE = LMCapabilities(languages=frozenset({"en", "ko"}), can_plan=True, can_abstract=True, local=False)


class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions that answers 500, malformed JSON, or never."""

    def __init__(self, mode: str):
        self.mode, self.calls, self.released = mode, [], threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                fake.calls.append(time.monotonic())
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if fake.mode == "hang":
                    fake.released.wait(60)
                    return
                body = b'{"error": {"message": "upstream down"}}' if fake.mode == "500" else b'{"choices": [{"mess'
                self.send_response(500 if fake.mode == "500" else 200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.released.set()
        self.server.shutdown()


@pytest.mark.parametrize("mode", ["500", "malformed", "hang"])
def test_a_failing_lm_costs_the_visitor_its_bounded_tries_then_the_site_answers(mini_index, hash_embedder, mode):
    fake = FakeOpenAI(mode)
    try:
        lm = dspy.LM("openai/fake", api_base=fake.url, api_key="k", timeout=1.0, num_retries=1, cache=False)
        program = DigitalTwin(mini_index, hash_embedder, PERSONA, CAPABLE, doc_types=mini_index.doc_types())
        program.params.planner.relevance_min_score = 0.0  # calibrated for e5; hash vectors score lower
        started = time.monotonic()
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            answer = program(question="Where did you study robotics?")
        answered = time.monotonic()
        time.sleep(1.5)  # long enough for a late retry to show up
    finally:
        fake.close()
    assert answer.degraded == "lm" and "Zephyr Institute" in answer.text
    assert 1 <= len(fake.calls) <= 2  # the first try and at most one retry (a reply that is not JSON: one)
    assert all(call < answered for call in fake.calls)  # nothing after the visitor had the answer
    assert answered - started < 30  # the hung endpoint did not hold the answer (it waits 60 s)
