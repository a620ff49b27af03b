"""An evaluation run recorded as a Langfuse dataset run, through the real SDK,
against an in-memory fake of Langfuse's public REST API on 127.0.0.1."""

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest
from pydantic import SecretStr

from evals.dataset import Case
from evals.langfuse_run import record_dataset_run
from tests.fake_server import FakeHandler, FakeServer

NOW = datetime.now(UTC).isoformat()


class _Handler(FakeHandler):
    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, message, headers=None):
        self._send(status, {"message": message})

    def _handle(self, method):
        received = self._receive(method)
        if received is None:
            return
        parts, body, _raw = received
        self._send(*self.server.fake.route(method, parts, body or {}))


class FakeLangfuseDatasets(FakeServer):
    handler = _Handler
    name = "fake-langfuse-datasets"

    def __init__(self):
        super().__init__()
        self.datasets: dict[str, dict] = {}
        self.items: dict[str, dict] = {}
        self.scores: list[dict] = []

    def _dataset(self, name):
        return {"id": f"ds-{name}", "name": name, "description": None, "metadata": None, "projectId": "p1",
                "createdAt": NOW, "updatedAt": NOW}

    def route(self, method, parts, body):
        path = parts.path
        if method == "POST" and path == "/api/public/v2/datasets":
            self.datasets[body["name"]] = self._dataset(body["name"])
            return 200, self.datasets[body["name"]]
        if method == "GET" and path.startswith("/api/public/v2/datasets/"):
            name = path.rsplit("/", 1)[-1]
            return (200, self.datasets[name]) if name in self.datasets else (404, {"message": "not found"})
        if method == "POST" and path == "/api/public/dataset-items":
            item = {"id": body.get("id") or str(uuid.uuid4()), "status": "ACTIVE", "input": body.get("input"),
                    "expectedOutput": body.get("expectedOutput"), "metadata": body.get("metadata"),
                    "sourceTraceId": None, "sourceObservationId": None, "datasetId": f"ds-{body['datasetName']}",
                    "datasetName": body["datasetName"], "mediaReferences": [], "createdAt": NOW, "updatedAt": NOW}
            self.items[item["id"]] = item
            return 200, item
        if method == "GET" and path == "/api/public/dataset-items":
            data = list(self.items.values())
            return 200, {"data": data, "meta": {"page": 1, "limit": 50, "totalItems": len(data), "totalPages": 1}}
        if method == "GET" and path == "/api/public/projects":
            return 200, {"data": [{"id": "p1", "name": "workbench", "metadata": {}}]}
        if method == "POST" and path == "/api/public/scores":
            self.scores.extend(body if isinstance(body, list) else [body])
            return 200, {"id": "s1"}
        return 200, {}  # OTel span exports (protobuf) and anything else: accepted and recorded


def _case(i, split="test"):
    return Case(id=f"q{i}", question=f"Question {i}?", history=[], language="en", category="single-fact",
                expected_relevant=True, expected_retrieval=True, reference_answer=f"Answer {i}.",
                reference_contexts=[f"education.md#entry-{i}"], split=split)


@pytest.mark.slow
def test_the_run_is_recorded_as_a_dataset_run_with_scores():
    cases = [_case(1), _case(2)]
    frame = pd.DataFrame([
        {"id": "q1", "answer_text": "A1", "retrieved_ids": ["education.md#entry-1"], "score": 0.9, "hit@5": 1.0},
        {"id": "q2", "answer_text": "A2", "retrieved_ids": [], "score": 0.4, "hit@5": 0.0},
    ])
    with FakeLangfuseDatasets() as fake:
        settings = SimpleNamespace(langfuse_public_key=SecretStr("pk-lf-x"), langfuse_secret_key=SecretStr("sk-lf-x"),
                                   langfuse_host=fake.url)
        assert record_dataset_run(settings, cases, frame, "run-20261125")
        assert "workbench-questions" in fake.datasets
        assert set(fake.items) == {"q1", "q2"}
        assert fake.items["q1"]["expectedOutput"] == {"answer": "Answer 1.", "contexts": ["education.md#entry-1"]}
        # one experiment trace per item, exported over OTel, each scored with our metrics
        assert any(path.startswith("/api/public/otel/v1/traces") for _, path, _ in fake.requests)
        by_trace: dict[str, dict] = {}
        for score in fake.scores:
            by_trace.setdefault(score["traceId"], {})[score["name"]] = score["value"]
        assert sorted(by_trace.values(), key=lambda s: s["score"]) == [{"score": 0.4, "hit@5": 0.0},
                                                                        {"score": 0.9, "hit@5": 1.0}]


def test_recording_never_fails_the_evaluation():
    settings = SimpleNamespace(langfuse_public_key=SecretStr("pk"), langfuse_secret_key=SecretStr("sk"),
                               langfuse_host="http://127.0.0.1:9")  # nothing listens there
    frame = pd.DataFrame([{"id": "q1", "answer_text": "A", "retrieved_ids": [], "score": 1.0}])
    assert record_dataset_run(settings, [_case(1)], frame, "run") is False
