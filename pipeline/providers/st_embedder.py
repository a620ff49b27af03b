"""Any local sentence-transformers model directory (the `[torch]` extra)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.providers.base import ProviderError


class SentenceTransformerEmbedder:
    def __init__(self, model_dir: Path | None):
        if model_dir is None or not Path(model_dir).is_dir():
            raise ProviderError("RAG_ST_MODEL_DIR must name a local sentence-transformers model folder")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ProviderError("sentence-transformers is not installed: pip install '.[torch]'") from None
        self._model = SentenceTransformer(str(model_dir), local_files_only=True)
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"sentence-transformers/{Path(model_dir).name}"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts), normalize_embeddings=True), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_queries(texts)
