"""The on-disk index: FAISS vectors plus plain JSON metadata, written atomically.

Format (version 1), one folder:
  manifest.json   {"format": "rag-news-index", "version": 1, "embedding_model", "dimension",
                   "chunk_tokens", "chunk_overlap", "created", "articles": [{source, title, outlet,
                   dates, content_hash, chunks}]}
  chunks.jsonl    one Chunk (rag.schema) per line, line i <-> vector i
  vectors.faiss   faiss.IndexFlatIP over unit-length embeddings (inner product = cosine)
A corpus of news articles is small (thousands of chunks at most), so exact search is both simplest
and fast enough; an approximate index would only add a training step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import IndexUnusableError
from rag.schema import Article, Chunk, Hit

FORMAT = "rag-news-index"
VERSION = 1
MANIFEST, CHUNKS, VECTORS = "manifest.json", "chunks.jsonl", "vectors.faiss"


@dataclass
class StoredIndex:
    manifest: dict
    chunks: list[Chunk]
    vectors: object  # faiss.Index
    keywords: object  # bm25s.BM25 over the same chunks, rebuilt at load (milliseconds per thousand chunks)

    def search(self, query_vector: np.ndarray, top_k: int) -> list[Hit]:
        """The top_k chunks by cosine similarity to query_vector, closest first."""
        k = min(top_k, len(self.chunks))
        scores, ids = self.vectors.search(query_vector.reshape(1, -1).astype(np.float32), k)
        return [Hit(chunk=self.chunks[i], score=float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def keyword_search(self, query: str, top_k: int) -> list[int]:
        """Positions of the top_k chunks by BM25 score (only chunks sharing a word with the query)."""
        import bm25s

        words = [w for w in bm25s.tokenize([query], return_ids=False, show_progress=False)[0]
                 if w in self.keywords.vocab_dict]
        if not words:
            return []
        ids, scores = self.keywords.retrieve([words], k=min(top_k, len(self.chunks)), show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0]) if s > 0]


def save_index(
    index_dir: Path, articles: list[Article], chunks: list[Chunk], vectors: np.ndarray, *,
    embedding_model: str, chunk_tokens: int, chunk_overlap: int,
) -> None:
    """Write to a sibling temp folder, then swap it in: a failed build never harms the old index."""
    import faiss

    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}-new-", dir=index_dir.parent))
    try:
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        faiss.write_index(flat, str(staging / VECTORS))
        with open(staging / CHUNKS, "w", encoding="utf-8") as f:
            for chunk in chunks:
                f.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        chunk_counts = {}
        for chunk in chunks:
            chunk_counts[chunk.source] = chunk_counts.get(chunk.source, 0) + 1
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "embedding_model": embedding_model,
            "dimension": int(vectors.shape[1]),
            "chunk_tokens": chunk_tokens,
            "chunk_overlap": chunk_overlap,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "articles": [
                {"source": a.source, "title": a.title, "outlet": a.outlet, "dates": a.dates,
                 "content_hash": a.content_hash, "chunks": chunk_counts.get(a.source, 0)}
                for a in articles
            ],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        _swap_in(staging, index_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, index_dir: Path) -> None:
    """Replace index_dir by staging with renames only, so readers see the old or the new index."""
    retired = None
    if index_dir.exists():
        retired = index_dir.with_name(f".{index_dir.name}-old-{os.getpid()}")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(index_dir, retired)
    os.replace(staging, index_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def load_index(index_dir: Path, embedding_model: str) -> StoredIndex:
    """Load the index, refusing one that is missing, damaged or built with another model.

    Cached per folder and manifest modification time, so a rebuilt index is picked up at once.
    """
    manifest_path = Path(index_dir) / MANIFEST
    try:
        stamp = manifest_path.stat().st_mtime_ns
    except OSError:
        raise IndexUnusableError(
            f"no index at {index_dir}: build one with `rag index DIR` (e.g. `rag index seeds`)"
        ) from None
    stored = _load(Path(index_dir).resolve(), stamp)
    built_with = stored.manifest.get("embedding_model")
    if built_with != embedding_model:
        raise IndexUnusableError(
            f"the index at {index_dir} was built with embedding model {built_with!r}, but the settings "
            f"use {embedding_model!r}: rebuild it with `rag index DIR` or set embedding_model={built_with!r}"
        )
    return stored


@lru_cache(maxsize=4)
def _load(index_dir: Path, manifest_stamp: int) -> StoredIndex:
    import faiss

    damaged = f"the index at {index_dir} is damaged"
    fix = "rebuild it with `rag index DIR`"
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise IndexUnusableError(
                f"{index_dir} holds format {manifest.get('format')!r} version {manifest.get('version')!r}, "
                f"not {FORMAT!r} version {VERSION}: {fix}"
            )
        with open(index_dir / CHUNKS, encoding="utf-8") as f:
            chunks = [Chunk(**json.loads(line)) for line in f if line.strip()]
        vectors = faiss.read_index(str(index_dir / VECTORS))
    except IndexUnusableError:
        raise
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise IndexUnusableError(f"{damaged} ({type(exc).__name__}: {exc}): {fix}") from None
    if vectors.ntotal != len(chunks) or vectors.d != manifest.get("dimension"):
        raise IndexUnusableError(
            f"{damaged}: {vectors.ntotal} vectors of dimension {vectors.d} for {len(chunks)} chunks "
            f"(manifest says dimension {manifest.get('dimension')}): {fix}"
        )
    return StoredIndex(manifest=manifest, chunks=chunks, vectors=vectors, keywords=_keyword_index(chunks))


def _keyword_index(chunks: list[Chunk]):
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
    keywords = bm25s.BM25()
    keywords.index(bm25s.tokenize([c.text for c in chunks], show_progress=False), show_progress=False)
    return keywords
