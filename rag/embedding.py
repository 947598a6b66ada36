"""Embeddings of passages and questions: sentence-transformers models loaded from a package folder
with the hub switched off, and nomic-embed-text-v1.5 run by llama.cpp beside one of them.

`embedding_model` names one model ("all-MiniLM-L6-v2") or several joined by "+"
("all-MiniLM-L6-v2+nomic-embed-text-v1.5", see `Joined`): the first model's cosine is the score
every threshold reads; each model adds its own ranking of the passages.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import BadInputError
from rag.models import embedding_model_path
from rag.schema import Chunk

# Set before transformers is imported anywhere: a missing file must fail, not trigger a download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def passage_text(chunk: Chunk) -> str:
    """What is embedded for a passage. The title travels with it: it often names the subject the
    passage leaves implicit."""
    return f"{chunk.title}\n{chunk.text}"


class Embedder:
    def __init__(self, name: str, path: Path):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every `rag ask`
        self.name = name
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dimension = self.model.get_embedding_dimension()
        self.max_tokens = self.model.max_seq_length
        self.spans = [(0, self.dimension)]  # where in a passage's vector each model's part lies

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, so inner product is cosine similarity."""
        vectors = self.model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class GgufEmbedder:
    """An embedding model in a GGUF file, run by llama.cpp: nomic-embed-text-v1.5, which was
    trained to read a question and a passage with different prefixes. Only ranks beside a
    sentence-transformers model (see Joined), whose tokenizer sizes the chunks."""

    QUERY, DOCUMENT = "search_query: ", "search_document: "

    def __init__(self, name: str, path: Path):
        from llama_cpp import Llama

        from rag.generation import close_at_exit

        self.name = name
        self.model = close_at_exit(Llama(str(path), embedding=True, n_ctx=2048, n_batch=2048, n_ubatch=2048,
                                         n_threads=os.cpu_count(), verbose=False))
        self.dimension = self.model.n_embd()

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._embed([self.DOCUMENT + text for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.QUERY + text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        # One text a call: llama.cpp attends across the whole batch, so batching costs more than it
        # saves (seed passages: 0.20 s each one by one, 0.25 s in fours, 0.34 s in eights).
        vectors = [self.model.embed(text, normalize=True) for text in texts]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


class Joined:
    """Several embedding models side by side. A passage's vector is theirs end to end, each of
    unit length, so one FAISS file holds them all, and a query vector that is zero outside one
    model's span searches by that model's cosine alone (rag.retrieval fuses the rankings).

    Measured (eval/retrieval_probe.py over the 1,213 answerable questions of the SQuAD file):
    all-MiniLM-L6-v2 with BM25 recall@1 0.776, nomic-embed-text-v1.5 beside them 0.807 (recall@4
    0.938 -> 0.947); the seed questions among the seeds and the SQuAD paragraphs 0.866 -> 0.940.
    Answers on the tuning sets were no better (eval/HISTORY.md), and indexing costs ~0.2 s more
    a passage on 2 cores (MiniLM ~0.03 s): an option, not the default."""

    def __init__(self, name: str, models: list):
        if not isinstance(models[0], Embedder):
            raise BadInputError(f"{name!r}: the first embedding model sizes the chunks and sets the scores; "
                                "it must be a sentence-transformers model (all-MiniLM-L6-v2)")
        self.name, self.models = name, models
        first = models[0]
        self.count_tokens, self.max_tokens = first.count_tokens, first.max_tokens
        ends = np.cumsum([model.dimension for model in models])
        self.spans = [(int(end - model.dimension), int(end)) for model, end in zip(models, ends)]
        self.dimension = int(ends[-1])

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return np.hstack([model.embed(texts, progress) for model in self.models])

    def embed_query(self, text: str) -> np.ndarray:
        return np.concatenate([model.embed_query(text) for model in self.models])


# Single-flight: concurrent first callers wait for the one model being loaded.
_LOADING = threading.Lock()


def load_embedder(name: str, models_dir: Path | None = None) -> Embedder | Joined:
    """The embedder `name` ("A" or "A+B"), loaded once per process (models_dir: see
    embedding_model_path)."""
    names = name.split("+")
    paths = [embedding_model_path(one, models_dir) for one in names]
    with _LOADING:
        models = [_load(one, path) for one, path in zip(names, paths)]
    return models[0] if len(models) == 1 else Joined(name, models)


@lru_cache(maxsize=3)
def _load(name: str, path: Path) -> Embedder | GgufEmbedder:
    return GgufEmbedder(name, path) if path.suffix == ".gguf" else Embedder(name, path)
