"""A Langfuse ingestion endpoint on 127.0.0.1 that records what the Langfuse SDK exports.

The SDK (v3+, OpenTelemetry-based) sends spans as OTLP/HTTP:

    POST /api/public/otel/v1/traces    ExportTraceServiceRequest, protobuf (gzip by default) or JSON

with `Authorization: Basic base64(public_key:secret_key)`; a wrong pair gets 401 as from the
real service. Nothing else is called when a client starts; other routes (health, the REST API)
answer with small JSON so an SDK probing them does not crash, and are recorded too.

It also serves back what it received, as Langfuse's read model does (the SDK's
`api.observations.get_many`):

    GET /api/public/v2/observations    observations (one per span), newest first, cursor-paginated

with the field groups (`fields`: core, basic, io, metadata, trace_context), the query filters
(name, traceId, type, level, sessionId, isRootObservation, fromStartTime, toStartTime) and the
structured `filter` (the conditions below; another is a 400, as an unsupported one is from the
real service). Inputs and outputs come back as the raw JSON strings the SDK sent; metadata
values as strings, cut at 200 characters unless `expandMetadata` names the key.

    with FakeLangfuse(public_key="pk-lf-test", secret_key="sk-lf-test") as fake:
        ...  # LANGFUSE_HOST = fake.url
        fake.wait_for_spans(5)
        [root] = fake.spans(name="chat")

Faults: `fake.inject(status=500, times=None)`, `fake.inject(delay=3.0)`.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from tests.fake_server import FakeHandler, FakeServer

TRACES_PATH = "/api/public/otel/v1/traces"
OBSERVATIONS_PATH = "/api/public/v2/observations"
FIELD_GROUPS = {
    "basic": ("name", "level", "statusMessage", "version", "environment", "bookmarked", "public", "userId",
              "sessionId", "isRootObservation"),
    "time": ("completionStartTime", "createdAt", "updatedAt"),
    "io": ("input", "output"),
    "metadata": ("metadata",),
    "trace_context": ("tags", "release", "traceName"),
}
CORE = ("id", "traceId", "startTime", "endTime", "projectId", "parentObservationId", "type")
METADATA_PREFIX = "langfuse.observation.metadata."


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    scope: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def json_attribute(self, key: str) -> Any:
        """Langfuse serialises inputs, outputs and metadata as JSON strings."""
        value = self.attributes.get(key)
        return json.loads(value) if isinstance(value, str) else value

    def observation(self) -> dict[str, Any]:
        """This span as Langfuse's v2 observations API returns it (every field group)."""
        a = self.attributes
        metadata = {k[len(METADATA_PREFIX):]: v for k, v in a.items() if k.startswith(METADATA_PREFIX)}
        return {
            "id": self.span_id, "traceId": self.trace_id, "startTime": _iso(self.start_ns),
            "endTime": _iso(self.end_ns), "projectId": "fake-project",
            "parentObservationId": self.parent_span_id or None,
            "type": str(a.get("langfuse.observation.type", "span")).upper(),
            "name": self.name, "level": a.get("langfuse.observation.level", "DEFAULT"),
            "statusMessage": a.get("langfuse.observation.status_message"), "version": a.get("langfuse.version"),
            "environment": a.get("langfuse.environment", "default"), "bookmarked": False, "public": False,
            "userId": a.get("user.id"), "sessionId": a.get("session.id"),
            "isRootObservation": not self.parent_span_id,
            "completionStartTime": None, "createdAt": _iso(self.start_ns), "updatedAt": _iso(self.end_ns),
            "input": a.get("langfuse.observation.input"), "output": a.get("langfuse.observation.output"),
            "metadata": {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()},
            "tags": list(a.get("langfuse.trace.tags") or []), "release": a.get("langfuse.release"),
            "traceName": a.get("langfuse.trace.name"),
        }


def _iso(ns: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


def _when(text: str):
    from datetime import datetime

    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


class UnsupportedFilter(ValueError):
    pass


def _matches(observation: dict, condition: dict) -> bool:
    """One condition of the structured `filter` (the subset the workbench and its tests use)."""
    kind, column, operator = condition.get("type"), condition.get("column"), condition.get("operator")
    value = condition.get("value")
    column = {"traceTags": "tags"}.get(column, column)
    if column not in observation:
        raise UnsupportedFilter(f"unknown column {column!r}")
    actual = observation[column]
    if kind == "string" and operator == "=":
        return actual == value
    if kind == "stringOptions" and operator in ("any of", "none of"):
        return (actual in value) == (operator == "any of")
    if kind == "boolean" and operator in ("=", "<>"):
        return (bool(actual) == bool(value)) == (operator == "=")
    if kind == "datetime" and operator in (">", "<", ">=", "<="):
        left, right = _when(actual), _when(value)
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[operator]
    if kind == "arrayOptions" and operator in ("any of", "all of", "none of"):
        have, want = set(actual or []), set(value)
        return {"any of": bool(have & want), "all of": want <= have, "none of": not have & want}[operator]
    raise UnsupportedFilter(f"the fake does not support {kind} {operator!r} on {column}")


def _value(any_value) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def decode_export(raw: bytes, content_type: str, encoding: str):
    """An ExportTraceServiceRequest from the body as sent (protobuf or JSON, maybe gzipped)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    if encoding == "gzip":
        raw = gzip.decompress(raw)
    message = ExportTraceServiceRequest()
    if "json" in content_type:
        json_format.Parse(raw.decode("utf-8"), message)
    else:
        message.ParseFromString(raw)
    return message


class _Handler(FakeHandler):
    fault_messages = {429: "Rate limit exceeded", 500: "Internal Server Error", 503: "Service Unavailable"}

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the exporter gave up waiting (the "slow" fault): nothing to answer

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        data = json.dumps({"message": message, "error": message}).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        fake: FakeLangfuse = self.server.fake
        received = self._receive(method)
        if received is None:
            return
        parts, _body, raw = received
        expected = "Basic " + base64.b64encode(f"{fake.public_key}:{fake.secret_key}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._error(401, "Invalid credentials. Confirm that you've configured the correct host.")
            return
        if method == "POST" and parts.path == TRACES_PATH:
            try:
                export = decode_export(raw, self.headers.get("Content-Type", ""), self.headers.get("Content-Encoding", ""))
            except Exception as exc:  # noqa: BLE001 - the real service answers 400
                self._error(400, f"Invalid OTLP payload: {exc.__class__.__name__}")
                return
            fake._store(export)
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

            self._send(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")
            return
        if method == "GET" and parts.path == OBSERVATIONS_PATH:
            from urllib.parse import parse_qs

            try:
                page = fake.observations_page({k: v[-1] for k, v in parse_qs(parts.query).items()})
            except (UnsupportedFilter, ValueError) as exc:
                self._error(400, f"Invalid request data: {exc}")
                return
            self._send(200, json.dumps(page).encode(), "application/json")
            return
        if method == "GET" and parts.path in ("/api/public/health", "/api/public/ready"):
            self._send(200, json.dumps({"status": "OK", "version": "fake"}).encode(), "application/json")
            return
        if method == "GET" and parts.path == "/api/public/projects":
            self._send(200, json.dumps({"data": [{"id": "fake-project", "name": "fake"}]}).encode(),
                       "application/json")
            return
        self._error(404, f"Not found: {method} {parts.path}")


class FakeLangfuse(FakeServer):
    handler = _Handler
    name = "fake-langfuse"

    def __init__(self, public_key: str = "pk-lf-test", secret_key: str = "sk-lf-test"):
        self.public_key = public_key
        self.secret_key = secret_key
        self._spans: list[Span] = []
        self._arrived = threading.Condition()
        super().__init__()

    def _store(self, export) -> None:
        spans = []
        for resource in export.resource_spans:
            for scope_spans in resource.scope_spans:
                for s in scope_spans.spans:
                    spans.append(Span(
                        name=s.name,
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        scope=scope_spans.scope.name,
                        attributes={kv.key: _value(kv.value) for kv in s.attributes},
                    ))
        with self._arrived:
            self._spans.extend(spans)
            self._arrived.notify_all()

    def spans(self, name: str | None = None, trace_id: str | None = None) -> list[Span]:
        with self._arrived:
            return [s for s in self._spans if (name is None or s.name == name)
                    and (trace_id is None or s.trace_id == trace_id)]

    def wait_for_spans(self, count: int, timeout: float = 15.0, name: str | None = None) -> list[Span]:
        """Block until at least `count` spans (named `name`, if given) have arrived."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [s for s in self._spans if name is None or s.name == name]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"only {len(found)} of {count} spans arrived within {timeout} s")
                self._arrived.wait(left)

    def observations_page(self, query: dict[str, str]) -> dict:
        """One page of GET /api/public/v2/observations for these query parameters."""
        import base64 as b64

        with self._arrived:
            observations = [s.observation() for s in self._spans]
        if "filter" in query:  # takes precedence over the query-parameter filters, as in the real API
            conditions = json.loads(query["filter"])
            observations = [o for o in observations if all(_matches(o, c) for c in conditions)]
        else:
            for param in ("name", "traceId", "type", "level", "sessionId", "userId", "environment"):
                if param in query:
                    observations = [o for o in observations if o[param] == query[param]]
            if "isRootObservation" in query:
                wanted = query["isRootObservation"].lower() == "true"
                observations = [o for o in observations if o["isRootObservation"] == wanted]
            if "fromStartTime" in query:
                observations = [o for o in observations if _when(o["startTime"]) >= _when(query["fromStartTime"])]
            if "toStartTime" in query:
                observations = [o for o in observations if _when(o["startTime"]) < _when(query["toStartTime"])]
        observations.sort(key=lambda o: (o["startTime"], o["id"]), reverse=True)  # newest first
        limit = min(int(query.get("limit", 50)), 1000)
        offset = int(json.loads(b64.b64decode(query["cursor"]))["offset"]) if query.get("cursor") else 0
        page = observations[offset:offset + limit]
        groups = {"core", *(query.get("fields") or "core,basic").split(",")}
        keep = set(CORE).union(*(FIELD_GROUPS.get(g.strip(), ()) for g in groups))
        expand = set(filter(None, (query.get("expandMetadata") or "").split(",")))
        data = []
        for o in page:
            o = {k: v for k, v in o.items() if k in keep}
            if "metadata" in o:
                o["metadata"] = {k: v if k in expand or len(v) <= 200 else v[:200] for k, v in o["metadata"].items()}
            data.append(o)
        more = offset + limit < len(observations)
        cursor = b64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode() if more else None
        return {"data": data, "meta": {"cursor": cursor} if cursor else {}}

    def export_calls(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[1].split("?")[0] == TRACES_PATH]
