"""Gemini embeddings through the official `google-genai` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.providers.base import ProviderError

BATCH = 100  # the API's limit of texts per request


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network failures as the SDK raises them: google-genai 3.x sends through `httpx2` (a
    separate package whose errors are not httpx's), earlier versions through `httpx`."""
    import httpx

    found: list[type[BaseException]] = [httpx.HTTPError, OSError]
    try:
        import httpx2

        found.append(httpx2.HTTPError)
    except ImportError:
        pass
    return tuple(found)


class GeminiEmbedder:
    """`client.models.embed_content`, which the SDK sends as one `:batchEmbedContents` per batch.

    `base_url` is the API root (the SDK appends the API version); `attempts` counts the first
    try too, and the SDK retries 408/429/5xx with exponential backoff.
    """

    def __init__(
        self,
        api_key: str,
        model: str = "gemini-embedding-001",
        dim: int = 768,
        base_url: str | None = None,
        *,
        attempts: int = 3,
        timeout: float = 60.0,
    ):
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=base_url,
            timeout=int(timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=attempts),
        )
        self._client = genai.Client(api_key=api_key, http_options=options)
        self._api_key = api_key
        self._types = types
        self.model = model
        self.dim = dim
        self.name = f"gemini/{model}@{dim}"

    def _failure(self, exc: Exception) -> ProviderError:
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            detail = str(exc.message or exc.status or "no details").strip().rstrip(".")
            if exc.code in (401, 403) or "API key" in detail or "API_KEY" in str(exc.details):
                message = f"Gemini rejected the API key ({exc.code}): check GEMINI_API_KEY"
            elif exc.code == 429:
                message = "Gemini embeddings are rate limited (429): wait and retry, or lower the batch rate"
            elif exc.code and exc.code >= 500:
                message = f"Gemini embeddings failed on the server ({exc.code}): retry later"
            else:
                message = f"Gemini embeddings failed ({exc.code}): {detail}"
        else:
            message = f"could not reach the Gemini API ({type(exc).__name__}): check GEMINI_BASE_URL and the network"
        return ProviderError(message.replace(self._api_key, "****") if self._api_key else message)

    def _embed(self, texts: Sequence[str], task_type: str) -> np.ndarray:
        from google.genai import errors

        out: list = []
        for start in range(0, len(texts), BATCH):
            batch: list[Any] = list(texts[start : start + BATCH])
            try:
                response = self._client.models.embed_content(
                    model=self.model,
                    contents=batch,
                    config=self._types.EmbedContentConfig(task_type=task_type, output_dimensionality=self.dim),
                )
            except (errors.APIError, *_transport_errors()) as exc:  # type: ignore[misc]  # a tuple of classes
                raise self._failure(exc) from None
            out.extend(e.values for e in response.embeddings or [])
        if len(out) != len(texts):
            raise ProviderError(f"Gemini returned {len(out)} embeddings for {len(texts)} texts")
        vectors = np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)
        # only the 3072-d output is normalised by the API; cosine needs unit vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.clip(norms, 1e-12, None)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "RETRIEVAL_QUERY")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "RETRIEVAL_DOCUMENT")
