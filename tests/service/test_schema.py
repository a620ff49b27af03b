"""Schemathesis over the service's OpenAPI schema: generated requests, valid and invalid,
never get a 5xx, and every answer matches the documented status codes, content types and
response schemas."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

import service
from tests.fakes import ScriptedEngine
from tests.servicekit import fake_lm, make_workbench, planner_script, service_settings


@pytest.fixture
def api_schema(mini_index, hash_embedder, tmp_path):
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())),
                               service_settings(tmp_path))
    return schemathesis.openapi.from_asgi("/openapi.json", service.create_app(workbench))


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(api_schema):
    statuses: Counter[tuple[str, int]] = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/chat", "/api/chat/stream", "/health", "/ready"}
    for operation in operations:
        has_input = operation.method.upper() == "POST"  # the GETs take nothing to get wrong
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_input else (GenerationMode.POSITIVE,):
            examples = 40 if has_input else 1

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call()
                statuses[(operation.path, response.status_code)] += 1  # noqa: B023 — run within this iteration
                assert response.status_code < 500, (case.body, response.text)
                case.validate_response(response)

            check()
    chat = {status for (path, status) in statuses if path == "/api/chat"}
    assert 200 in chat and 422 in chat, statuses  # both valid and invalid requests were made
