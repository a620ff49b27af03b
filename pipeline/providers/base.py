"""The small interfaces every provider adapter implements.

Business logic depends on these protocols only; the vendor SDKs stay inside
their adapters, and `pipeline.factory` picks the adapters from settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


class ProviderError(RuntimeError):
    """A provider failed in a way the user can act on; the message says how."""


class IndexMismatchError(ProviderError):
    """The index was built by another embedder (or does not exist)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised vectors; queries and passages may differ."""

    name: str  # identifies model + settings; stored with an index
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit of the corpus: an entry under a heading."""

    id: str
    source: str
    doc_type: str
    title: str
    anchor: str
    text: str
    page_title: str = ""
    content_hash: str = ""
    url: str = ""  # the site page it is read on ("" when the layout cannot tell)

    @property
    def embed_text(self) -> str:
        """The text that is embedded: page title and heading make it stand alone."""
        head = " / ".join(p for p in (self.page_title, self.title) if p)
        return f"{head}\n{self.text}" if head else self.text


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


# hybrid retrieval: the dense score's weight against the keyword score (the optimizer tunes it)
DEFAULT_HYBRID_ALPHA = 0.6


@dataclass
class SearchRequest:
    vector: np.ndarray
    text: str
    k: int
    doc_types: Sequence[str] = field(default_factory=tuple)
    mode: str = "hybrid"  # "dense" | "hybrid"
    alpha: float = DEFAULT_HYBRID_ALPHA  # hybrid: weight of the dense score against the keyword score

    def __post_init__(self):
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError("alpha must be between 0 and 1")


@runtime_checkable
class SearchIndex(Protocol):
    """The query side of a vector store: what answering a question needs."""

    def embedder_name(self) -> str | None:
        """The embedder that built this index, or None when it is empty/new."""
        ...

    def keywords_version(self) -> int | None:
        """The `pipeline.text.KEYWORDS_VERSION` its keyword index was built with (None: empty/new)."""
        ...

    def search(self, request: SearchRequest) -> list[Hit]: ...

    def dense_search(self, vector: np.ndarray, k: int, doc_types: Sequence[str] = ()) -> list[Hit]: ...

    def doc_types(self) -> list[str]: ...

    def count(self) -> int: ...

    def chunks(self) -> list[Chunk]: ...


@runtime_checkable
class IndexWriter(Protocol):
    """The ingest side of a vector store: idempotent writes."""

    def embedder_name(self) -> str | None: ...

    def existing_hashes(self) -> dict[str, str]:
        """chunk id → content hash of what is stored (for idempotent ingestion)."""
        ...

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, embedder_name: str) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def clear(self) -> None:
        """Remove every chunk and the record of which embedder built the index."""
        ...


@runtime_checkable
class VectorStore(SearchIndex, IndexWriter, Protocol):
    """Both sides: what each adapter (LanceDB, Pinecone) implements."""


def manifest_keywords_version(manifest: dict) -> int | None:
    """The `KEYWORDS_VERSION` an index manifest records: 1 for one written before the
    version was recorded, None when there is no manifest (no index yet)."""
    return int(manifest.get("keywords", 1)) if manifest else None


@dataclass(frozen=True)
class LMCapabilities:
    """What the configured LM can be trusted with; decisions read this, not model names."""

    languages: frozenset[str] = frozenset({"en"})
    can_plan: bool = False  # trustworthy relevance / retrieval judgements
    can_abstract: bool = False  # writes grounded prose rather than quoting
    local: bool = True
