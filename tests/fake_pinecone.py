"""An in-memory Pinecone data plane on 127.0.0.1 that speaks the real REST protocol.

It serves what `pinecone.Index` (SDK 10.x) sends for a vector index:

    POST /vectors/upsert           {"vectors": [{id, values, sparseValues?, metadata?}], "namespace"?}
    POST /query                    {"topK", "vector"?, "sparseVector"?, "filter"?, "includeMetadata", ...}
    GET  /vectors/fetch            ?ids=a&ids=b&namespace=ns
    GET  /vectors/list             ?namespace=ns&prefix=&limit=&paginationToken=
    POST /vectors/delete           {"ids"? | "deleteAll"? | "filter"?, "namespace"}
    POST /describe_index_stats     {}

and checks the `Api-Key` header (401 with Pinecone's error JSON when wrong). Scores
follow the index metric: with "dotproduct" a hybrid query scores
`dense·q + sparse·q_sparse`. Validation mirrors the service where it matters to an
adapter: dimension mismatch, all-zero dense vectors, sparse values on a non-dotproduct
index, more than 1000 vectors per upsert, metadata types.

Faults: `fake.inject(status=429, times=2)` answers the next two requests with that
status; `fake.inject(delay=3.0)` sleeps before answering (for client timeouts).

    with FakePinecone(api_key="pc-test", dimension=64) as fake:
        index = Pinecone(api_key="pc-test").Index(host=fake.url)
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_server import FakeHandler, FakeServer

MAX_UPSERT = 1000
MAX_TOP_K = 10_000
METADATA_LIMIT = 40 * 1024

# google.rpc codes Pinecone's data plane puts in its error bodies
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14}


@dataclass
class _Record:
    values: list[float]
    sparse: dict[int, float] | None
    metadata: dict[str, Any] | None


class PineconeApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _State:
    api_key: str
    dimension: int | None
    metric: str
    namespaces: dict[str, dict[str, _Record]] = field(default_factory=dict)


def _matches(metadata: dict[str, Any] | None, flt: dict[str, Any] | None) -> bool:
    """Pinecone's metadata filter language (the subset of operators it documents)."""
    if not flt:
        return True
    metadata = metadata or {}
    for key, cond in flt.items():
        if key == "$and":
            if not all(_matches(metadata, sub) for sub in cond):
                return False
            continue
        if key == "$or":
            if not any(_matches(metadata, sub) for sub in cond):
                return False
            continue
        if key.startswith("$"):
            raise PineconeApiError(400, f"unknown top-level operator {key}")
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        present = key in metadata
        value = metadata.get(key)
        values = value if isinstance(value, list) else [value]
        for op, arg in cond.items():
            if op == "$eq":
                ok = present and arg in values
            elif op == "$ne":
                ok = not present or arg not in values
            elif op == "$in":
                if not isinstance(arg, list):
                    raise PineconeApiError(400, "$in operator must be applied to an array")
                ok = present and any(v in arg for v in values)
            elif op == "$nin":
                if not isinstance(arg, list):
                    raise PineconeApiError(400, "$nin operator must be applied to an array")
                ok = not present or not any(v in arg for v in values)
            elif op == "$exists":
                ok = present == bool(arg)
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                if not present or isinstance(value, (str, list, bool)):
                    ok = False
                else:
                    ok = {"$gt": value > arg, "$gte": value >= arg, "$lt": value < arg, "$lte": value <= arg}[op]
            else:
                raise PineconeApiError(400, f"unknown operator {op}")
            if not ok:
                return False
    return True


def _check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise PineconeApiError(400, "Metadata must be a JSON object")
    for key, value in metadata.items():
        if value is None:
            raise PineconeApiError(400, f"Metadata value for field '{key}' must not be null")
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise PineconeApiError(400, f"Metadata list for field '{key}' must contain only strings")
        elif not isinstance(value, (str, int, float, bool)):
            raise PineconeApiError(400, f"Metadata value for field '{key}' must be a string, number, boolean or list of strings")
    size = len(json.dumps(metadata, ensure_ascii=False).encode())
    if size > METADATA_LIMIT:
        raise PineconeApiError(400, f"Metadata size is {size} bytes, which exceeds the limit of {METADATA_LIMIT} bytes per vector")


def _parse_sparse(raw: Any, what: str) -> dict[int, float] | None:
    if raw is None:
        return None
    indices, values = raw.get("indices"), raw.get("values")
    if not isinstance(indices, list) or not isinstance(values, list) or len(indices) != len(values):
        raise PineconeApiError(400, f"{what}: indices and values must be arrays of the same length")
    if not indices:
        raise PineconeApiError(400, f"{what}: sparse vector must contain at least one value")
    if len(set(indices)) != len(indices):
        raise PineconeApiError(400, f"{what}: sparse vector indices must be unique")
    if any(not isinstance(i, int) or i < 0 or i > 2**32 - 1 for i in indices):
        raise PineconeApiError(400, f"{what}: sparse indices must be unsigned 32-bit integers")
    return dict(zip(indices, (float(v) for v in values)))


class _Handler(FakeHandler):
    fault_messages = {429: "Request rate limit exceeded", 500: "Internal error", 503: "Service unavailable"}

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-pinecone-request-id", str(self.server.fake._next_request_id()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"code": _RPC_CODES.get(status, 2), "message": message, "details": []}, headers)

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        received = self._receive(method)
        if received is None:
            return
        parts, body, raw = received
        if self.headers.get("Api-Key") != fake.state.api_key:
            self._error(401, "Invalid API Key")
            return
        if raw and body is None:
            self._error(400, "Failed to parse the request body as JSON")
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        route = {
            ("POST", "/vectors/upsert"): fake._upsert,
            ("POST", "/query"): fake._query,
            ("GET", "/vectors/fetch"): fake._fetch,
            ("GET", "/vectors/list"): fake._list,
            ("POST", "/vectors/delete"): fake._delete,
            ("POST", "/describe_index_stats"): fake._stats,
        }.get((method, parts.path))
        if route is None:
            self._error(404, f"Not found: {method} {parts.path}")
            return
        try:
            with fake._lock:
                payload = route(body or {}, query)
        except PineconeApiError as exc:
            self._error(exc.status, exc.message)
            return
        self._send(200, payload)


class FakePinecone(FakeServer):
    """One serverless index (one host) held in memory; see the module docstring."""

    handler = _Handler
    name = "fake-pinecone"

    def __init__(self, api_key: str = "pc-test-key", dimension: int | None = None, metric: str = "dotproduct"):
        super().__init__()
        self.state = _State(api_key=api_key, dimension=dimension, metric=metric)
        self.list_page_size = 100  # the service's default page size for /vectors/list
        self._ids = 0

    # -- test helpers ------------------------------------------------------------

    def calls(self, path: str, method: str | None = None) -> list[tuple[str, str, Any]]:
        """Recorded requests to `path` (query string ignored)."""
        return [r for r in self.requests if urlsplit(r[1]).path == path and (method is None or r[0] == method)]

    def vectors(self, namespace: str = "") -> dict[str, _Record]:
        with self._lock:
            return dict(self.state.namespaces.get(namespace, {}))

    def _next_request_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    # -- the data plane --------------------------------------------------------------

    def _ns(self, name: str | None) -> str:
        return "" if name in (None, "__default__") else name

    def _upsert(self, body: dict, query: dict) -> dict:
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise PineconeApiError(400, "vectors must be a non-empty array")
        if len(vectors) > MAX_UPSERT:
            raise PineconeApiError(400, f"Max vectors per upsert request is {MAX_UPSERT}, got {len(vectors)}")
        parsed: dict[str, _Record] = {}
        for item in vectors:
            vid = item.get("id")
            if not isinstance(vid, str) or not vid or not vid.isascii() or len(vid) > 512:
                raise PineconeApiError(400, f"Invalid vector id {vid!r}: ids must be 1-512 ASCII characters")
            values = [float(v) for v in item.get("values") or []]
            dim = self.state.dimension
            if dim is None:
                self.state.dimension = dim = len(values)
            if len(values) != dim:
                raise PineconeApiError(400, f"Vector dimension {len(values)} does not match the dimension of the index {dim}")
            if not any(values):
                raise PineconeApiError(400, "Dense vectors must contain at least one non-zero value")
            sparse = _parse_sparse(item.get("sparseValues"), f"vector {vid}")
            if sparse is not None and self.state.metric != "dotproduct":
                raise PineconeApiError(400, "Sparse values are only supported for indexes using the dotproduct metric")
            _check_metadata(item.get("metadata"))
            parsed[vid] = _Record(values, sparse, item.get("metadata"))
        self.state.namespaces.setdefault(self._ns(body.get("namespace")), {}).update(parsed)
        return {"upsertedCount": len(parsed)}

    def _score(self, record: _Record, dense: list[float] | None, sparse: dict[int, float] | None) -> float:
        metric = self.state.metric
        if metric == "dotproduct":
            score = sum(a * b for a, b in zip(record.values, dense)) if dense else 0.0
            if sparse and record.sparse:
                score += sum(v * record.sparse.get(i, 0.0) for i, v in sparse.items())
            return score
        if metric == "cosine":
            dot = sum(a * b for a, b in zip(record.values, dense))
            norm = math.sqrt(sum(a * a for a in record.values)) * math.sqrt(sum(b * b for b in dense))
            return dot / norm if norm else 0.0
        return sum((a - b) ** 2 for a, b in zip(record.values, dense))  # euclidean: squared distance

    def _query(self, body: dict, query: dict) -> dict:
        top_k = body.get("topK")
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise PineconeApiError(400, f"topK must be between 1 and {MAX_TOP_K}")
        namespace = self._ns(body.get("namespace"))
        records = self.state.namespaces.get(namespace, {})
        dense = body.get("vector")
        sparse = _parse_sparse(body.get("sparseVector"), "query")
        if "id" in body:
            if body["id"] not in records:
                return {"matches": [], "namespace": namespace, "usage": {"readUnits": 1}}
            dense = records[body["id"]].values
        if dense is None and sparse is None:
            raise PineconeApiError(400, "No query provided: set vector, sparseVector or id")
        if sparse is not None and self.state.metric != "dotproduct":
            raise PineconeApiError(400, "Sparse vectors are only supported for indexes using the dotproduct metric")
        if dense is None:
            raise PineconeApiError(400, "A dense index needs a dense query vector")
        if self.state.dimension is not None and len(dense) != self.state.dimension:
            raise PineconeApiError(400, f"Vector dimension {len(dense)} does not match the dimension of the index {self.state.dimension}")
        flt = body.get("filter")
        scored = [
            (self._score(record, dense, sparse), vid, record)
            for vid, record in records.items()
            if _matches(record.metadata, flt)
        ]
        reverse = self.state.metric != "euclidean"
        scored.sort(key=lambda t: (-t[0], t[1]) if reverse else (t[0], t[1]))
        matches = []
        for score, vid, record in scored[:top_k]:
            match: dict[str, Any] = {"id": vid, "score": score, "values": []}
            if body.get("includeValues"):
                match["values"] = record.values
                if record.sparse:
                    match["sparseValues"] = {"indices": list(record.sparse), "values": list(record.sparse.values())}
            if body.get("includeMetadata") and record.metadata is not None:
                match["metadata"] = record.metadata
            matches.append(match)
        return {"results": [], "matches": matches, "namespace": namespace, "usage": {"readUnits": 5}}

    def _fetch(self, body: dict, query: dict) -> dict:
        ids = query.get("ids") or []
        if not ids:
            raise PineconeApiError(400, "ids must be a non-empty list")
        namespace = self._ns((query.get("namespace") or [""])[0])
        records = self.state.namespaces.get(namespace, {})
        vectors = {}
        for vid in ids:
            record = records.get(vid)
            if record is None:
                continue
            out: dict[str, Any] = {"id": vid, "values": record.values}
            if record.sparse:
                out["sparseValues"] = {"indices": list(record.sparse), "values": list(record.sparse.values())}
            if record.metadata is not None:
                out["metadata"] = record.metadata
            vectors[vid] = out
        return {"vectors": vectors, "namespace": namespace, "usage": {"readUnits": 1}}

    def _list(self, body: dict, query: dict) -> dict:
        namespace = self._ns((query.get("namespace") or [""])[0])
        prefix = (query.get("prefix") or [""])[0]
        limit = int((query.get("limit") or [self.list_page_size])[0])
        if not 1 <= limit <= 100:
            raise PineconeApiError(400, "limit must be between 1 and 100")
        ids = sorted(v for v in self.state.namespaces.get(namespace, {}) if v.startswith(prefix))
        token = (query.get("paginationToken") or [None])[0]
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except ValueError:
                raise PineconeApiError(400, "Invalid pagination token") from None
            ids = [v for v in ids if v > after]
        page = ids[:limit]
        out: dict[str, Any] = {"vectors": [{"id": v} for v in page], "namespace": namespace, "usage": {"readUnits": 1}}
        if len(ids) > limit:
            out["pagination"] = {"next": base64.urlsafe_b64encode(page[-1].encode()).decode()}
        return out

    def _delete(self, body: dict, query: dict) -> dict:
        namespace = self._ns(body.get("namespace"))
        records = self.state.namespaces.get(namespace, {})
        if body.get("deleteAll"):
            records.clear()
        elif body.get("ids") is not None:
            ids = body["ids"]
            if len(ids) > 1000:
                raise PineconeApiError(400, "Max ids per delete request is 1000")
            for vid in ids:
                records.pop(vid, None)
        elif body.get("filter"):
            for vid in [v for v, r in records.items() if _matches(r.metadata, body["filter"])]:
                records.pop(vid)
        else:
            raise PineconeApiError(400, "Delete needs ids, deleteAll or filter")
        return {}

    def _stats(self, body: dict, query: dict) -> dict:
        if body.get("filter"):
            raise PineconeApiError(400, "Serverless indexes do not support describe_index_stats with a filter")
        namespaces = {
            (name or "__default__"): {"vectorCount": len(records)}
            for name, records in self.state.namespaces.items()
            if records
        }
        return {
            "namespaces": namespaces,
            "dimension": self.state.dimension or 0,
            "indexFullness": 0.0,
            "totalVectorCount": sum(v["vectorCount"] for v in namespaces.values()),
            "metric": self.state.metric,
            "vectorType": "dense",
        }
