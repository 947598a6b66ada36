"""Bring an index in line with a folder of articles, reading and embedding only what changed.

Each file is compared with the index by the SHA-256 of its bytes (`plan_sync`): new files are
added, changed ones re-chunked and re-embedded, deleted (or no longer usable) ones removed, and
unchanged ones not read past their hash. Work is committed in batches of BATCH_FILES files, so a
build of a large archive that is killed keeps the batches it finished, and another writer (the UI
adding an article) waits for one batch, not for the whole build. Embedding runs outside the
write transaction; if another writer indexed the same file meanwhile, the batch replaces it with
the same content. A file that changes between its hash and its reading is indexed as read, under
the old hash, so the next sync reads it again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.chunking import chunk_article
from rag.config import Settings
from rag.embedding import load_embedder
from rag.errors import BadInputError, IndexUnusableError
from rag.index import Build, indexed_files, read_catalog, writing
from rag.loading import article_files, load_article
from rag.models import sha256_file
from rag.schema import IndexInfo

log = logging.getLogger(__name__)

# Files per write transaction: 500 news articles are about 3,000 passages, about a minute of
# embedding on 2 cores, and a vector file rewritten a few times per thousand articles.
BATCH_FILES = 500
# Passages embedded at a time by the local embedder, so the progress bar moves between commits.
EMBED_SLICE = 256


@dataclass
class SyncPlan:
    """What a sync of `folder` into an index would do, decided by file hashes alone."""

    new: list[tuple[Path, str | None]] = field(default_factory=list)  # (file, SHA-256; None: will be refused)
    changed: list[tuple[Path, str | None]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # indexed names no longer in the folder
    unchanged: list[str] = field(default_factory=list)


def plan_sync(source_dir: Path, index_dir: Path, build: Build, max_file_bytes: int) -> SyncPlan:
    """Compare the folder with the index (nothing is written; an index built otherwise counts as empty)."""
    indexed = indexed_files(Path(index_dir), build)
    plan = SyncPlan()
    names = set()
    for path in article_files(Path(source_dir)):
        names.add(path.name)
        digest = _file_hash(path, max_file_bytes)
        if path.name not in indexed:
            plan.new.append((path, digest))
        elif digest is None or indexed[path.name] != digest:
            plan.changed.append((path, digest))
        else:
            plan.unchanged.append(path.name)
    plan.removed = sorted(set(indexed) - names)
    return plan


def build_for(settings: Settings) -> Build:
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    return Build(embedding_model=settings.embedding_model, dimension=embedder.dimension,
                 chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)


def sync_folder(source_dir: Path, index_dir: Path, settings: Settings, *,
                embed: Callable[[list[str]], np.ndarray] | None = None, progress: bool = True) -> IndexInfo:
    """Make the index at index_dir hold exactly the usable articles of source_dir. `embed`
    replaces the local embedder's `embed` (rag.distributed runs it on a Ray cluster)."""
    started = time.perf_counter()
    folder, index_dir = Path(source_dir), Path(index_dir)
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    build = build_for(settings)
    plan = plan_sync(folder, index_dir, build, settings.max_file_bytes)
    to_read = plan.new + plan.changed
    present = set(plan.unchanged)

    bar = _progress(len(to_read), progress)
    skipped: list[str] = []
    embedded = passages = 0
    for first in range(0, len(to_read), BATCH_FILES):
        batch = []
        for path, digest in to_read[first:first + BATCH_FILES]:
            try:
                article = load_article(path, settings.max_file_bytes)
            except BadInputError as exc:
                log.warning("skipping %s", exc)
                skipped.append(str(exc))
                bar.update(1)
                continue
            chunks = chunk_article(article, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
            batch.append((article, digest, chunks))
        if not batch:
            continue
        # The title travels with each passage: it often names the subject the passage leaves implicit.
        texts = [f"{c.title}\n{c.text}" for _, _, chunks in batch for c in chunks]
        ends = np.cumsum([len(chunks) for _, _, chunks in batch])  # each file's last passage + 1
        step = max(len(texts), 1) if embed else EMBED_SLICE  # Ray pays a start-up per call: one call a batch
        pieces, files_done = [], 0
        for start in range(0, len(texts), step):
            pieces.append((embed or embedder.embed)(texts[start:start + step]))
            passages += len(pieces[-1])
            done = int(np.searchsorted(ends, start + len(pieces[-1]), side="right"))
            bar.update(done - files_done)
            files_done = done
            bar.set_postfix_str(f"{passages / (time.perf_counter() - started):.0f} passages/s")
        vectors = np.concatenate(pieces) if pieces else np.zeros((0, build.dimension), dtype=np.float32)
        with writing(index_dir, build) as writer:
            row = 0
            for article, digest, chunks in batch:
                writer.put(article, digest, chunks, vectors[row:row + len(chunks)])
                row += len(chunks)
        present.update(article.source for article, _, _ in batch)
        embedded += len(batch)
    bar.close()
    if not present:
        raise BadInputError(f"no usable article in {folder}: " + "; ".join(skipped))

    removed = 0
    with writing(index_dir, build) as writer:
        if writer.started_again and not embedded:
            # The index was damaged or rebuilt with other settings after it was compared with
            # the folder: committing now would leave it empty.
            raise IndexUnusableError(f"the index at {index_dir} changed while it was synced: run `rag index` again")
        for source in writer.indexed():
            if source not in present:
                writer.remove(source)
                removed += 1
        writer.set_source_dir(folder)
    _, articles = read_catalog(index_dir)
    return IndexInfo(index_dir=str(index_dir), embedding_model=settings.embedding_model, dimension=build.dimension,
                     articles=len(articles), chunks=sum(a.chunks for a in articles), skipped=skipped,
                     embedded=embedded, removed=removed, seconds=round(time.perf_counter() - started, 3))


def _progress(files: int, shown: bool):
    """Files done of those to read, with the time left; passages per second beside it."""
    from tqdm import tqdm

    return tqdm(total=files, unit="file", desc="indexing", disable=not shown or files == 0)


def _file_hash(path: Path, max_bytes: int) -> str | None:
    """The SHA-256 of a regular file's bytes; None for anything load_article will refuse anyway
    (links, special files, oversized files), so that it is read and the reason reported."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > max_bytes:
            return None
        return sha256_file(path)
    except OSError:
        return None
