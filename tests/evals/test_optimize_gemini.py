"""The capable-LM compile path end to end: BootstrapFewShot compiles demos for the generate stage from a
train split, through the real Gemini client against the fake Gemini server; the saved program reloads
them, and they are in the request the client sends when the reloaded program answers."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import dspy

import service
from evals.dataset import Case
from evals.optimize import _compile_prompts
from pipeline.factory import make_lm
from pipeline.program import DigitalTwin, save_program
from tests.fake_gemini import FakeGemini
from tests.servicekit import PERSONA, asgi_client, chat_body, make_workbench, service_settings

KEY = "gm-test-compile-2c81f0"
REPLY = {"relevant": True, "needs_retrieval": True, "doc_types": ["education"], "standalone_query": "",
         "answer": "I studied robotics at Zephyr Institute under Prof. Quill Tanaka; see Education.",
         "lead": "Here is what my site says:"}
TRAIN = [("Who advised your robotics master's?", "education.md#ms-in-robotics"),
         ("Which testbed did you use for swarm robotics?", "education.md#ms-in-robotics")]


def cases() -> list[Case]:
    return [Case(id=f"t{i}", question=q, history=[], language="en", category="single-fact", expected_relevant=True,
                 expected_retrieval=True, expected_doc_types=["education"], reference_answer=REPLY["answer"],
                 reference_contexts=[{"source": ref.split("#")[0], "heading": "M.S. in Robotics"}], split="train")
            for i, (q, ref) in enumerate(TRAIN)]


def test_demos_compiled_through_the_gemini_client_are_saved_reloaded_and_sent(mini_index, hash_embedder, tmp_path):
    with FakeGemini(api_key=KEY, reply=json.dumps(REPLY)) as fake:
        settings = service_settings(tmp_path, gemini_api_key=KEY, gemini_base_url=fake.url, lm_retries=0)
        lm = make_lm(settings)
        assert lm.model.startswith("gemini/")
        bench = make_workbench(mini_index, hash_embedder, lm, settings)
        compiled = _compile_prompts(bench, "bootstrap", ["generate"], cases(), budget=2)
        demos = compiled.generate.predict.demos
        assert demos and {d["question"] for d in demos} <= {q for q, _ in TRAIN}
        assert fake.calls("generateContent") or fake.calls("streamGenerateContent")  # the real client called it

        path = save_program(compiled, tmp_path / "program.json")
        fresh = DigitalTwin(mini_index, hash_embedder, PERSONA, bench.program.capabilities, bench.program.params,
                            doc_types=mini_index.doc_types())
        fresh.load(str(path))
        assert [d["question"] for d in fresh.generate.predict.demos] == [d["question"] for d in demos]

        fake.requests.clear()
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            answer = fresh(question="Where did you study physics?")
        assert "Zephyr Institute" in answer.text
        sent = json.dumps([body for _, _, body in fake.requests], ensure_ascii=False)
        assert demos[0]["question"] in sent  # the compiled demo is part of the prompt the client sent

        # served: the service answers a visitor with the reloaded program, and sends the demo too
        fake.requests.clear()
        served = dataclasses.replace(bench, program=fresh)
        app = service.create_app(served, settings=settings)

        async def ask():
            async with asgi_client(app) as client:
                return await client.post("/api/chat", json=chat_body("Where did you study physics?"))

        response = asyncio.run(ask())
        assert response.status_code == 200 and "Zephyr Institute" in response.json()["response"]
        sent = json.dumps([body for _, _, body in fake.requests], ensure_ascii=False)
        assert demos[0]["question"] in sent
