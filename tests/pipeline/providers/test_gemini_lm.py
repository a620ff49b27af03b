"""`make_lm` for gemini/ models: a real dspy.LM reaching the local fake Gemini API.

DSPy 3.4 routes `gemini/...` through its native lm15 Gemini provider, unless
GEMINI_API_BASE / GEMINI_BASE_URL is set in the environment, which sends it through
LiteLLM instead. Both take a versioned api_base (`{root}/v1beta`) and POST to
`{api_base}/models/{model}:generateContent` with the key in `x-goog-api-key`.
"""

from __future__ import annotations

import json

import dspy
import pytest

from pipeline.factory import make_lm
from pipeline.settings import Settings
from tests.fake_gemini import FakeGemini

KEY = "test-key"
MODEL = "gemini-2.5-flash"


@pytest.fixture
def fake():
    with FakeGemini(api_key=KEY, reply="Scripted hello from the fake.") as server:
        yield server


@pytest.fixture(autouse=True)
def isolated_dspy(monkeypatch, tmp_path):
    # no network for LiteLLM's price map, no ambient provider settings, no shared cache
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for name in ("GEMINI_API_BASE", "GEMINI_BASE_URL", "GEMINI_API_KEY", "RAG_LM", "RAG_GEMINI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(dspy, "cache", dspy.cache)  # restored after the test


def settings_for(fake: FakeGemini, tmp_path, **extra) -> Settings:
    return Settings(
        _env_file=None,
        gemini_api_key=KEY,
        gemini_base_url=fake.url,
        rag_lm_cache=False,
        rag_cache_dir=str(tmp_path / "dspy-cache"),
        **extra,
    )


def test_make_lm_points_dspy_at_the_configured_base_url(fake, tmp_path):
    settings = settings_for(fake, tmp_path)
    assert settings.lm_provider == f"gemini/{MODEL}" and settings.lm_cache is False
    lm = make_lm(settings)
    assert lm.model == f"gemini/{MODEL}"
    assert lm.kwargs["api_base"] == fake.url + "/v1beta"
    assert lm.kwargs["api_key"] == KEY


def test_a_base_url_with_a_version_is_kept(fake, tmp_path):
    settings = Settings(_env_file=None, gemini_api_key=KEY, gemini_base_url=fake.url + "/v1beta/", rag_lm_cache=False,
                        rag_cache_dir=str(tmp_path))
    assert make_lm(settings).kwargs["api_base"] == fake.url + "/v1beta"


def test_calling_the_lm_reaches_generate_content(fake, tmp_path):
    lm = make_lm(settings_for(fake, tmp_path))
    assert lm("hello") == ["Scripted hello from the fake."]

    [(method, path, body)] = fake.calls("generateContent")
    assert (method, path) == ("POST", f"/v1beta/models/{MODEL}:generateContent")
    assert body["contents"][-1]["parts"][0]["text"] == "hello"
    assert body["generationConfig"]["temperature"] == 0
    assert fake.request_headers[-1].get("x-goog-api-key") == KEY
    # the native lm15 provider, not LiteLLM, made the call
    assert fake.request_headers[-1].get("User-Agent", "").startswith("lm15")
    assert lm.history[-1]["usage"]["total_tokens"] > 0


def test_a_predict_module_gets_its_fields_from_the_fake(fake, tmp_path):
    lm = make_lm(settings_for(fake, tmp_path))
    fake.reply = json.dumps({"answer": "She studied swarm robotics."})
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        prediction = dspy.Predict("question -> answer")(question="What did she study?")
    assert prediction.answer == "She studied swarm robotics."
    [(_, _, body)] = fake.calls("generateContent")
    assert "What did she study?" in body["contents"][-1]["parts"][0]["text"]
    assert "answer" in body["systemInstruction"]["parts"][0]["text"]


@pytest.mark.slow  # importing LiteLLM takes seconds
def test_an_environment_base_url_routes_through_litellm_to_the_same_place(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_BASE_URL", fake.url)  # read by Settings, and seen by DSPy's backend choice
    settings = Settings(_env_file=None, gemini_api_key=KEY, rag_lm_cache=False, rag_cache_dir=str(tmp_path))
    assert settings.gemini_base_url == fake.url
    lm = make_lm(settings)
    assert lm("hello") == ["Scripted hello from the fake."]
    [(_, path, _)] = fake.calls("generateContent")
    assert path == f"/v1beta/models/{MODEL}:generateContent"
    assert not fake.request_headers[-1].get("User-Agent", "").startswith("lm15")
    assert fake.request_headers[-1].get("x-goog-api-key") == KEY
