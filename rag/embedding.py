"""Sentence-transformers embeddings, loaded from a package folder with the hub switched off."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.models import embedding_model_path

# Set before transformers is imported anywhere: a missing file must fail, not trigger a download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Embedder:
    def __init__(self, name: str, path: Path):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every `rag ask`
        self.name = name
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dimension = self.model.get_embedding_dimension()
        self.max_tokens = self.model.max_seq_length
        # Whole words of the tokenizer's vocabulary: a cheap dictionary of ordinary English.
        self.known_words = frozenset(w for w in self.model.tokenizer.get_vocab() if w.isalpha())

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, so inner product is cosine similarity."""
        vectors = self.model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
        )
        return np.asarray(vectors, dtype=np.float32)


# Single-flight: concurrent first callers wait for the one model being loaded.
_LOADING = threading.Lock()


def load_embedder(name: str, models_dir: Path | None = None) -> Embedder:
    """The embedder `name`, loaded once per process (models_dir: see embedding_model_path)."""
    path = embedding_model_path(name, models_dir)
    with _LOADING:
        return _load(name, path)


@lru_cache(maxsize=3)
def _load(name: str, path: Path) -> Embedder:
    return Embedder(name, path)
