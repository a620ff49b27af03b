"""The cloud vector store: one Pinecone namespace per corpus, sparse-dense hybrid search."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from urllib.parse import quote, unquote

import numpy as np

from pipeline.providers.base import Chunk, Hit, ProviderError, SearchRequest, manifest_keywords_version
from pipeline.text import KEYWORDS_VERSION, sparse_vector

MANIFEST_ID = "__workbench_manifest__"
UPSERT_BATCH = 100  # vectors per upsert request
DELETE_BATCH = 1000  # ids per delete request (the service's limit)
FETCH_BATCH = 100  # ids per fetch request ...
FETCH_URL_BUDGET = 6000  # ... and at most this many characters of ids in its query string
MAX_ID = 512
_META = ("source", "doc_type", "title", "anchor", "page_title", "text", "content_hash", "url")
# everything printable in ASCII except '%' stays as it is; the rest is percent-encoded
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def to_pinecone_id(chunk_id: str) -> str:
    """Pinecone ids are 1-512 ASCII characters: percent-encode the rest (reversibly)."""
    encoded = quote(chunk_id, safe=_SAFE)
    if len(encoded) > MAX_ID:
        import hashlib

        # too long to encode: a stable digest; the chunk id itself rides in the metadata
        encoded = "sha256:" + hashlib.sha256(chunk_id.encode()).hexdigest()
    return encoded


def from_pinecone_id(vector_id: str, metadata: dict | None = None) -> str:
    if metadata and metadata.get("chunk_id"):
        return str(metadata["chunk_id"])
    return unquote(vector_id)


class PineconeStore:
    """Chunks of one corpus in one namespace of a Pinecone index, through the official SDK.

    Hybrid search sends one query carrying a dense and a sparse vector (hashed keyword
    weights from `pipeline.text.sparse_vector`), weighted by Pinecone's convex combination
    (dense × alpha, sparse × (1 − alpha), alpha from each `SearchRequest`). Sparse-dense vectors need an index created
    with the **dotproduct** metric (dense, dimension = the embedder's); the embedders'
    unit vectors make a dense-only dotproduct score equal to cosine similarity.

    A reserved record (`__workbench_manifest__`) records the embedder that built the
    namespace; it is never returned by searches, counts or listings. Chunk ids become
    ASCII vector ids by percent-encoding (non-ASCII, e.g. Korean slugs, and '%').

    `count()` reads index stats, which the service updates a few seconds after writes.
    """

    def __init__(
        self,
        api_key: str,
        index_name: str,
        namespace: str,
        host: str | None = None,
        timeout: float = 30.0,
    ):
        from pinecone import Pinecone

        self.index_name = index_name
        self.namespace = namespace
        self.host = host
        self._api_key = api_key
        with self._calling("configuring the client"):
            self._pc = Pinecone(api_key=api_key, timeout=timeout)
        self._index_client = None
        self._manifest: dict | None = None

    # -- plumbing ------------------------------------------------------------------

    @property
    def _index(self):
        """The data-plane client, opened on first use (a name costs one describe call)."""
        if self._index_client is None:
            with self._calling("opening the index"):
                if self.host:
                    self._index_client = self._pc.Index(host=self.host)
                else:
                    self._index_client = self._pc.Index(name=self.index_name)
        return self._index_client

    def _where(self) -> str:
        return f"index '{self.index_name}' (namespace '{self.namespace}')"

    @contextlib.contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Turn the SDK's and the network's failures into one-sentence ProviderErrors."""
        try:
            yield
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised otherwise
            error = self._translate(exc, action)
            if error is None:
                raise
            raise error from None

    def _translate(self, exc: Exception, action: str) -> ProviderError | None:
        import httpx
        from pinecone.errors import exceptions as pe

        where = self._where()
        status = getattr(exc, "status_code", None) or getattr(exc, "status", None)
        if isinstance(exc, (pe.UnauthorizedError, pe.ForbiddenError)) or status in (401, 403):
            message = f"Pinecone rejected the API key ({status}) while {action}: check PINECONE_API_KEY"
        elif isinstance(exc, pe.NotFoundError) or status == 404:
            message = f"Pinecone found no {where} while {action}: check PINECONE_INDEX_NAME and PINECONE_HOST"
        elif isinstance(exc, pe.RateLimitError) or status == 429:
            message = f"Pinecone rate-limited {action} (429) after retries: wait and try again"
        elif isinstance(exc, pe.ServiceError) or (isinstance(status, int) and status >= 500):
            message = f"Pinecone failed on the server ({status}) while {action}: try again later"
        elif isinstance(exc, pe.ApiError):
            detail = (getattr(exc, "message", "") or str(exc)).strip().rstrip(".")
            message = f"Pinecone refused {action} on {where} ({status}): {detail}"
        elif isinstance(exc, (pe.PineconeTimeoutError, httpx.TimeoutException, TimeoutError)):
            message = f"Pinecone timed out while {action}: check PINECONE_HOST and the network, then retry"
        elif isinstance(exc, (pe.PineconeConnectionError, httpx.TransportError, ConnectionError, OSError)):
            message = f"could not reach Pinecone while {action}: check PINECONE_HOST and the network"
        elif isinstance(exc, (pe.PineconeValueError, pe.PineconeTypeError)):
            message = f"the Pinecone SDK rejected {action}: {str(exc).strip().rstrip('.')}"
        elif isinstance(exc, pe.PineconeError):
            message = f"Pinecone failed while {action} ({type(exc).__name__}): {str(exc).strip().rstrip('.')}"
        else:
            try:  # the pre-rewrite SDK's transport, if some layer still surfaces it
                import urllib3

                if not isinstance(exc, urllib3.exceptions.HTTPError):
                    return None
            except ImportError:
                return None
            message = f"could not reach Pinecone while {action}: check PINECONE_HOST and the network"
        if self._api_key:
            message = message.replace(self._api_key, "****")
        return ProviderError(message)

    def _fetch(self, vector_ids: Sequence[str]) -> dict:
        """id → fetched Vector, in batches that keep the GET query string short."""
        found: dict = {}
        batch: list[str] = []
        size = 0
        for vid in vector_ids:
            cost = len(quote(vid, safe="")) + 5
            if batch and (len(batch) >= FETCH_BATCH or size + cost > FETCH_URL_BUDGET):
                found.update(self._fetch_batch(batch))
                batch, size = [], 0
            batch.append(vid)
            size += cost
        if batch:
            found.update(self._fetch_batch(batch))
        return found

    def _fetch_batch(self, batch: list[str]) -> dict:
        with self._calling("fetching vectors"):
            return dict(self._index.fetch(ids=batch, namespace=self.namespace).vectors)

    def _vector_ids(self) -> list[str]:
        """Every vector id in the namespace except the manifest (paginated listing)."""
        ids: list[str] = []
        with self._calling("listing vectors"):
            for page in self._index.list(namespace=self.namespace):
                ids.extend(item.id for item in page.vectors if item.id and item.id != MANIFEST_ID)
        return ids

    @staticmethod
    def _chunk(vector_id: str, metadata: dict | None) -> Chunk:
        metadata = metadata or {}
        return Chunk(
            id=from_pinecone_id(vector_id, metadata),
            **{name: str(metadata.get(name, "")) for name in _META},
        )

    # -- the manifest ----------------------------------------------------------------

    def manifest(self) -> dict:
        if self._manifest is None:
            vector = self._fetch_batch([MANIFEST_ID]).get(MANIFEST_ID)
            if vector is None:
                return {}
            self._manifest = dict(vector.metadata or {})
        return self._manifest

    def embedder_name(self) -> str | None:
        return self.manifest().get("embedder")

    def keywords_version(self) -> int | None:
        """The `pipeline.text.KEYWORDS_VERSION` its sparse vectors were built with (None: no index yet)."""
        return manifest_keywords_version(self.manifest())

    def exists(self) -> bool:
        return bool(self.manifest())

    def _write_manifest(self, embedder_name: str, dim: int) -> None:
        values = [0.0] * dim
        values[0] = 1e-6  # the service refuses all-zero dense vectors; this one scores ~0
        metadata = {"kind": "workbench-manifest", "embedder": embedder_name, "dim": dim, "keywords": KEYWORDS_VERSION}
        with self._calling("writing the index manifest"):
            self._index.upsert(
                vectors=[{"id": MANIFEST_ID, "values": values, "metadata": metadata}], namespace=self.namespace
            )
        self._manifest = metadata

    # -- writes ----------------------------------------------------------------------

    def existing_hashes(self) -> dict[str, str]:
        fetched = self._fetch(self._vector_ids())
        hashes = {}
        for vid, vector in fetched.items():
            metadata = vector.metadata or {}
            hashes[from_pinecone_id(vid, metadata)] = str(metadata.get("content_hash", ""))
        return hashes

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, embedder_name: str) -> None:
        if not chunks:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {vectors.shape[0]} vectors")
        dim = int(vectors.shape[1])
        records = []
        for chunk, vector in zip(chunks, vectors):
            record = {
                "id": to_pinecone_id(chunk.id),
                "values": [float(v) for v in vector],
                "metadata": {"chunk_id": chunk.id, **{name: str(getattr(chunk, name)) for name in _META}},
            }
            sparse = sparse_vector(chunk.embed_text)
            if sparse["indices"]:
                record["sparse_values"] = sparse
            records.append(record)
        for start in range(0, len(records), UPSERT_BATCH):
            with self._calling("upserting vectors"):
                self._index.upsert(vectors=records[start : start + UPSERT_BATCH], namespace=self.namespace)
        manifest = self.manifest()
        if (manifest.get("embedder"), manifest.get("dim"), manifest.get("keywords")) != (
                embedder_name, dim, KEYWORDS_VERSION):
            self._write_manifest(embedder_name, dim)

    def delete(self, ids: Sequence[str]) -> None:
        vector_ids = [to_pinecone_id(i) for i in ids]
        for start in range(0, len(vector_ids), DELETE_BATCH):
            with self._calling("deleting vectors"):
                self._index.delete(ids=vector_ids[start : start + DELETE_BATCH], namespace=self.namespace)

    def clear(self) -> None:
        with self._calling("clearing the namespace"):
            self._index.delete(delete_all=True, namespace=self.namespace)
        self._manifest = None

    # -- reads -----------------------------------------------------------------------

    def count(self) -> int:
        with self._calling("reading index stats"):
            stats = self._index.describe_index_stats()
        summary = stats.namespaces.get(self.namespace or "__default__")
        total = summary.vector_count if summary is not None else 0
        return max(0, total - (1 if self.exists() else 0))

    def chunks(self) -> list[Chunk]:
        fetched = self._fetch(self._vector_ids())
        return sorted((self._chunk(vid, v.metadata) for vid, v in fetched.items()), key=lambda c: c.id)

    def doc_types(self) -> list[str]:
        return sorted({c.doc_type for c in self.chunks() if c.doc_type})

    def _query(self, k: int, dense: np.ndarray, sparse: dict | None, doc_types: Sequence[str]) -> list[Hit]:
        if k <= 0:
            return []
        kwargs = {}
        if doc_types:
            kwargs["filter"] = {"doc_type": {"$in": list(doc_types)}}
        if sparse is not None:
            kwargs["sparse_vector"] = sparse
        with self._calling("searching"):
            response = self._index.query(
                vector=[float(v) for v in np.asarray(dense, dtype=np.float32).reshape(-1)],
                top_k=k + 1,  # room for the manifest, which is dropped below
                namespace=self.namespace,
                include_metadata=True,
                **kwargs,
            )
        hits = [
            Hit(self._chunk(m.id, m.metadata), float(m.score)) for m in response.matches if m.id != MANIFEST_ID
        ]
        return hits[:k]

    def dense_search(self, vector: np.ndarray, k: int, doc_types: Sequence[str] = ()) -> list[Hit]:
        """Nearest chunks by the dense vector alone; the score is cosine for unit vectors."""
        return self._query(k, vector, None, doc_types)

    def search(self, request: SearchRequest) -> list[Hit]:
        if request.mode != "hybrid":
            return self.dense_search(request.vector, request.k, request.doc_types)
        alpha = request.alpha  # the program's tuned weight, per request
        dense = np.asarray(request.vector, dtype=np.float32) * alpha
        query = sparse_vector(request.text, query=True)
        sparse = None
        if query["indices"] and alpha < 1.0:
            sparse = {"indices": query["indices"], "values": [v * (1.0 - alpha) for v in query["values"]]}
        return self._query(request.k, dense, sparse, request.doc_types)
