"""The on-disk index: FAISS vectors plus plain JSON metadata, written atomically.

Format (version 1), one folder:
  manifest.json          {"format": "rag-news-index", "version": 1, "embedding_model", "dimension",
                         "chunk_tokens", "chunk_overlap", "created", "source_dir", "chunks_file",
                         "vectors_file", "sha256": {file name: SHA-256 of each data file},
                         "articles": [{source, title, outlet, dates, content_hash, chunks, added}]}
  chunks-<gen>.jsonl     one Chunk (rag.schema) per line, line i <-> vector i
  vectors-<gen>.faiss    faiss.IndexFlatIP over unit-length embeddings (inner product = cosine)
  .write.lock            empty; a writer holds a lock on it (flock) while it writes and commits
<gen> names one build; the manifest says which build is current.
A corpus of news articles is small (thousands of chunks at most), so exact search is both simplest
and fast enough; an approximate index would only add a training step.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import IndexUnusableError
from rag.models import sha256_file
from rag.schema import Article, ArticleRecord, Chunk, Hit
from rag.text import name_key

FORMAT = "rag-news-index"
VERSION = 1
MANIFEST = "manifest.json"
WRITE_LOCK = ".write.lock"


@dataclass
class StoredIndex:
    manifest: dict
    articles: dict[str, ArticleRecord]  # by source file name, in manifest order
    chunks: list[Chunk]
    vectors: object  # faiss.Index
    keywords: object  # bm25s.BM25 over the same chunks, rebuilt at load (milliseconds per thousand chunks)
    vocabulary: frozenset[str]  # the lower-cased words of the chunks, as written (for respelling)
    names: dict[str, frozenset[str]]  # source file -> name_key of every word its chunks and title use

    def search(self, query_vector: np.ndarray, top_k: int) -> list[Hit]:
        """The top_k chunks by cosine similarity to query_vector, closest first."""
        k = min(top_k, len(self.chunks))
        scores, ids = self.vectors.search(query_vector.reshape(1, -1).astype(np.float32), k)
        return [Hit(chunk=self.chunks[i], score=float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def vector(self, position: int) -> np.ndarray:
        return self.vectors.reconstruct(position)

    def keyword_search(self, query: str, top_k: int) -> list[int]:
        """Positions of the top_k chunks by BM25 score (only chunks sharing a word with the query)."""
        import bm25s

        words = [w for w in bm25s.tokenize([query], return_ids=False, stemmer=_stem, show_progress=False)[0]
                 if w in self.keywords.vocab_dict]
        if not words:
            return []
        ids, scores = self.keywords.retrieve([words], k=min(top_k, len(self.chunks)), show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0]) if s > 0]


def save_index(
    index_dir: Path, articles: list[Article], chunks: list[Chunk], vectors: np.ndarray, *,
    embedding_model: str, chunk_tokens: int, chunk_overlap: int, source_dir: Path | None = None,
) -> None:
    """Write a new generation of the data files, then switch the manifest to it.

    Replacing manifest.json is the single atomic step: a reader sees the old index or the new
    one, never a mix, and a failed build leaves the old one untouched. The previous generation's
    files stay until the next build, for readers that opened the old manifest a moment ago.
    Writers take turns (a file lock, so also between processes: the UI and a shell `rag index`).
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with _one_writer(index_dir):
        previous = _readable_manifest(index_dir)
        try:
            _write_generation(index_dir, previous, articles, chunks, vectors, embedding_model=embedding_model,
                              chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap, source_dir=source_dir)
        finally:
            # Whatever happened, keep what the live manifest names (ours if we committed) and
            # the generation before it; everything else of ours or of failed builds goes.
            keep = _data_files(_readable_manifest(index_dir)) | _data_files(previous)
            for path in index_dir.glob("*"):
                if path.name not in keep and path.name.startswith((f".{MANIFEST}.", "chunks-", "vectors-")):
                    path.unlink(missing_ok=True)


@contextmanager
def _one_writer(index_dir: Path):
    """Hold the index's write lock until the block ends. flock locks an open file, so a second
    writer waits whether it is another thread or another process; the kernel drops the lock of a
    process that dies."""
    with open(index_dir / WRITE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _data_files(manifest: dict | None) -> set[str]:
    return {manifest.get("chunks_file"), manifest.get("vectors_file")} - {None} if manifest else set()


def _write_generation(index_dir: Path, previous: dict | None, articles: list[Article], chunks: list[Chunk],
                      vectors: np.ndarray, *, embedding_model: str, chunk_tokens: int, chunk_overlap: int,
                      source_dir: Path | None) -> None:
    import faiss

    generation = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    files = {"chunks_file": f"chunks-{generation}.jsonl", "vectors_file": f"vectors-{generation}.faiss"}
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(index_dir / files["vectors_file"]))
    with open(index_dir / files["chunks_file"], "w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # An article that is already indexed with the same content keeps its "added" time.
    added_before = {(a.source, a.content_hash): a.added for a in article_records(previous or {})}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "embedding_model": embedding_model,
        "dimension": int(vectors.shape[1]),
        "chunk_tokens": chunk_tokens,
        "chunk_overlap": chunk_overlap,
        "created": now,
        "source_dir": str(Path(source_dir).resolve()) if source_dir is not None else None,
        **files,
        "sha256": {name: sha256_file(index_dir / name) for name in files.values()},
        "articles": [
            asdict(ArticleRecord(source=a.source, title=a.title, outlet=a.outlet, dates=a.dates,
                                 content_hash=a.content_hash, chunks=sum(c.source == a.source for c in chunks),
                                 added=added_before.get((a.source, a.content_hash)) or now))
            for a in articles
        ],
    }
    staging = index_dir / f".{MANIFEST}.{generation}"
    staging.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(staging, index_dir / MANIFEST)


def read_manifest(index_dir: Path) -> dict:
    """The manifest of the index at index_dir; IndexUnusableError, naming the fix, when there is
    none or it cannot be read."""
    try:
        manifest = json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _no_index(index_dir) from None
    except (OSError, ValueError) as exc:
        raise IndexUnusableError(
            f"the index at {index_dir} is damaged ({type(exc).__name__}: {exc}): rebuild it with `rag index DIR`"
        ) from None
    if not isinstance(manifest, dict):
        raise IndexUnusableError(f"the index at {index_dir} is damaged ({MANIFEST} holds a JSON "
                                 f"{type(manifest).__name__}, not an object): rebuild it with `rag index DIR`")
    return manifest


def article_records(manifest: dict) -> list[ArticleRecord]:
    """The articles a manifest lists, in its order."""
    return [ArticleRecord(source=a["source"], title=a["title"], outlet=a.get("outlet"), dates=a.get("dates") or [],
                          content_hash=a.get("content_hash", ""), chunks=a.get("chunks", 0), added=a.get("added"))
            for a in manifest.get("articles", [])]


def _no_index(index_dir: Path) -> IndexUnusableError:
    return IndexUnusableError(f"no index at {index_dir}: build one with `rag index DIR` (e.g. `rag index seeds`)")


def _readable_manifest(index_dir: Path) -> dict | None:
    """The manifest at index_dir, if there is a readable one (None for none or a damaged one)."""
    try:
        return read_manifest(index_dir)
    except IndexUnusableError:
        return None


def load_index(index_dir: Path, embedding_model: str) -> StoredIndex:
    """Load the index, refusing one that is missing, damaged or built with another model.

    Cached per folder and manifest modification time, so a rebuilt index is picked up at once.
    """
    try:
        stamp = (Path(index_dir) / MANIFEST).stat().st_mtime_ns
    except OSError:
        raise _no_index(index_dir) from None
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
    manifest = read_manifest(index_dir)
    try:
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise IndexUnusableError(
                f"{index_dir} holds format {manifest.get('format')!r} version {manifest.get('version')!r}, "
                f"not {FORMAT!r} version {VERSION}: {fix}"
            )
        articles = {a.source: a for a in article_records(manifest)}
        _check_sums(index_dir, manifest)
        with open(index_dir / manifest["chunks_file"], encoding="utf-8") as f:
            chunks = [Chunk(**json.loads(line)) for line in f if line.strip()]
        vectors = faiss.read_index(str(index_dir / manifest["vectors_file"]))
    except IndexUnusableError:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexUnusableError(f"{damaged} ({type(exc).__name__}: {exc}): {fix}") from None
    if vectors.ntotal != len(chunks) or vectors.d != manifest.get("dimension"):
        raise IndexUnusableError(
            f"{damaged}: {vectors.ntotal} vectors of dimension {vectors.d} for {len(chunks)} chunks "
            f"(manifest says dimension {manifest.get('dimension')}): {fix}"
        )
    vocabulary = frozenset(w for c in chunks for w in re.findall(r"[^\W\d_]+", c.text.lower()))
    names: dict[str, set[str]] = {}
    for c in chunks:
        names.setdefault(c.source, set()).update(name_key(w) for w in re.findall(r"\w+", f"{c.title} {c.text}"))
    return StoredIndex(manifest=manifest, articles=articles, chunks=chunks, vectors=vectors,
                       keywords=_keyword_index(chunks),
                       vocabulary=vocabulary, names={source: frozenset(keys) for source, keys in names.items()})


def _check_sums(index_dir: Path, manifest: dict) -> None:
    """Refuse data files whose bytes changed since the build: a flipped byte in the vectors is
    otherwise read as a score of 3e36. Costs one read of the files per load (a load is cached per
    build; SHA-256 ran at 1.1 GB/s on the 2-core test machine); an index built before checksums
    were recorded has none to check."""
    for name, expected in (manifest.get("sha256") or {}).items():
        if name in (manifest["chunks_file"], manifest["vectors_file"]) and sha256_file(index_dir / name) != expected:
            raise IndexUnusableError(f"the index at {index_dir} is damaged ({name} does not match the SHA-256 "
                                     "recorded when it was built): rebuild it with `rag index DIR`")


def _stem(words: list[str]) -> list[str]:
    """English stems, so that "demand" finds "demands" and "agreed" finds "agreement"."""
    return _stemmer().stemWords(words)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _keyword_index(chunks: list[Chunk]):
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
    keywords = bm25s.BM25()
    keywords.index(bm25s.tokenize([c.text for c in chunks], stemmer=_stem, show_progress=False), show_progress=False)
    return keywords
