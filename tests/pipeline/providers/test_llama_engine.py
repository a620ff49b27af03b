"""The in-process SmolLM2 engine: schema → grammar, bounded output, never unparseable."""

import json

import dspy
import pytest

from pipeline.providers.llama_engine import LlamaCppEngine, bound_schema, repair_json, smollm2_path
from pipeline.signatures import FrameAnswer, GenerateAnswer, PlanQuery, RewriteQuery


def test_bound_schema_caps_every_array_and_string():
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "text": {"type": "string"},
            "nested": {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "string"}}}},
        },
    }
    bounded = bound_schema(schema, max_items=3, max_string=50)
    assert bounded["properties"]["tags"]["maxItems"] == 3 and bounded["properties"]["tags"]["uniqueItems"]
    assert "maxLength" not in bounded["properties"]["tags"]["items"]  # enums are bounded already
    assert bounded["properties"]["text"]["maxLength"] == 50
    assert bounded["properties"]["nested"]["properties"]["xs"]["items"]["maxLength"] == 50
    assert "maxItems" not in schema["properties"]["tags"]  # the input is not modified


@pytest.mark.parametrize(
    "cut, expected",
    [
        ('{"lead": "I studied at', {"lead": "I studied at"}),
        ('{"relevant": true, "doc_types": ["papers", "awa', None),
        ('{"relevant": true, "doc_types": ["papers"', {"relevant": True, "doc_types": ["papers"]}),
        ('{"answer": "ok"}', {"answer": "ok"}),
    ],
)
def test_repair_json_closes_what_the_token_cap_cut(cut, expected):
    repaired = repair_json(cut)
    if expected is None:
        assert repaired is None or isinstance(json.loads(repaired), dict)
    else:
        assert json.loads(repaired) == expected


def test_the_model_ships_inside_the_wheel():
    path = smollm2_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


@pytest.mark.model
@pytest.mark.slow
def test_every_stage_parses_through_dspy_with_the_real_model(tmp_path):
    engine = LlamaCppEngine(n_threads=2)
    lm = dspy.LM("local/smollm2-135m-instruct", engine=engine, cache=False, num_retries=0, max_tokens=96)
    calls = [
        (PlanQuery, {"query": q, "owner": "Mina Park, a robotics researcher"}, 64)
        for q in ("Hello!", "Can pigs fly?", "Which papers did you publish?", "What awards did you win?")
    ] + [
        (RewriteQuery, {"conversation": "Visitor: Tell me about ORCHID-7", "message": "Who built it?"}, 96),
        (FrameAnswer, {"question": "Where did you study?", "facts": "M.S. in Robotics — Zephyr Institute"}, 48),
        (GenerateAnswer, {"passages": "[1] <<<\nM.S. in Robotics, Zephyr Institute\n>>>", "question": "Where?",
                          "language": "English", "site_sections": "Education"}, 160),
    ]
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        for signature, inputs, max_tokens in calls:
            out = dspy.Predict(signature, max_tokens=max_tokens)(**inputs)  # raises if unparseable
            for name in signature.output_fields:
                assert getattr(out, name) is not None
            if signature is PlanQuery:
                assert isinstance(out.doc_types, list) and len(out.doc_types) <= 4
                assert len(set(out.doc_types)) == len(out.doc_types)
    assert engine.calls == len(calls)


class CutModel:
    """A llama.cpp stand-in that stops at the token cap mid-answer."""

    def __init__(self, content):
        self.content = content

    def create_chat_completion(self, **kwargs):
        return {"choices": [{"message": {"content": self.content}, "finish_reason": "length"}], "usage": {}}


@pytest.mark.parametrize("content, finish, repaired", [
    ('{"lead": "I studied at', "stop", 1),  # closed into a complete answer: not reported as cut
    ("no json here", "length", 0),  # nothing to repair: DSPy hears it was cut
])
def test_a_cut_answer_is_reported_as_cut_only_when_it_cannot_be_repaired(content, finish, repaired, monkeypatch):
    from dspy import lm15

    engine = LlamaCppEngine()
    monkeypatch.setattr(engine, "_model", lambda: CutModel(content))
    monkeypatch.setattr(engine, "_grammar", lambda schema: None)
    schema = {"type": "object", "properties": {"lead": {"type": "string"}}}
    request = lm15.Request(model="local", messages=[lm15.Message.user("hi")],
                           config=lm15.Config(max_tokens=8, response_format={"type": "json_schema", "schema": schema}))
    response = engine.complete(request)
    assert response.finish_reason == finish and engine.repaired == repaired


# -- native faults: the AMX crash (llama.cpp #20824) must never take the process down -------


@pytest.mark.model
@pytest.mark.slow
def test_the_local_model_generates_in_a_child_process():
    """The regression test for the AMX segfault: a real generation, in a subprocess, exits 0 with text."""
    from pipeline.providers.llama_native import run_check

    result = run_check(str(smollm2_path()))
    assert result.ok, f"the local LM crashed or failed on this machine: {result.detail}"
    assert result.detail.strip() and result.tokens > 0


def test_a_child_that_segfaults_is_reported_not_fatal():
    import sys

    from pipeline.providers.llama_native import crash_message, run_check

    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    result = run_check("model.gguf", command=crash)
    assert not result.ok and "SIGSEGV" in result.detail
    message = crash_message(result)
    assert "20824" in message and "use_extra_bufts" in message and "GEMINI_API_KEY" in message


def test_the_verdict_is_cached_per_machine_and_build(tmp_path, monkeypatch):
    from pipeline.providers import llama_native

    calls = []
    monkeypatch.setattr(llama_native, "run_check", lambda path, threads: calls.append(path)
                        or llama_native.CheckResult(True, "Hello!", 1.0, 3, 0.1))
    first = llama_native.checked(str(smollm2_path()), 2, tmp_path)
    second = llama_native.checked(str(smollm2_path()), 2, tmp_path)
    assert first.ok and second.ok and second.cached and len(calls) == 1


def test_an_engine_whose_check_failed_never_loads_the_model_in_process():
    from dspy import lm15

    from pipeline.providers.llama_native import CheckResult

    engine = LlamaCppEngine()
    engine._check = CheckResult(False, "the child process died of signal 11 (SIGSEGV)", 0.5)
    request = lm15.Request(model="local", messages=[lm15.Message.user("hi")], config=lm15.Config(max_tokens=8))
    with pytest.raises(lm15.NotConfiguredError, match="self-check"):
        engine.complete(request)
    assert engine._llama is None
