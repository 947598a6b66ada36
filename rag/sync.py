"""Bring an index in line with a folder of articles, reading and embedding only what changed.

Each file is compared with the index by the SHA-256 of its bytes: new files are added, changed
ones re-chunked and re-embedded, deleted (or no longer usable) ones removed, and unchanged ones
not read past their hash. Work is committed in batches of BATCH_FILES files, so a build of a
large archive that is killed keeps the batches it finished, and another writer (the UI adding an
article) waits for one batch, not for the whole build. Embedding runs outside the write
transaction; if another writer indexed the same file meanwhile, the batch replaces it with the
same content.
"""

from __future__ import annotations

import logging
import time
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

# Files per write transaction: 500 news articles are about 3,000 passages, under two minutes of
# embedding on 2 cores, and a vector file rewritten a few times per thousand articles.
BATCH_FILES = 500


def sync_folder(source_dir: Path, index_dir: Path, settings: Settings, *,
                embed: Callable[[list[str]], np.ndarray] | None = None, progress: bool = True) -> IndexInfo:
    """Make the index at index_dir hold exactly the usable articles of source_dir. `embed`
    replaces the local embedder's `embed` (rag.distributed runs it on a Ray cluster)."""
    started = time.perf_counter()
    folder, index_dir = Path(source_dir), Path(index_dir)
    files = article_files(folder)
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    build = Build(embedding_model=settings.embedding_model, dimension=embedder.dimension,
                  chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
    embed = embed or (lambda texts: embedder.embed(texts, progress=progress))

    indexed = indexed_files(index_dir, build)
    present: set[str] = set()
    to_read: list[tuple[Path, str | None]] = []
    for path in files:
        digest = _file_hash(path, settings.max_file_bytes)
        if digest is not None and indexed.get(path.name) == digest:
            present.add(path.name)
        else:
            to_read.append((path, digest))

    skipped: list[str] = []
    embedded = 0
    for first in range(0, len(to_read), BATCH_FILES):
        batch = []
        for path, digest in to_read[first:first + BATCH_FILES]:
            try:
                article = load_article(path, settings.max_file_bytes)
            except BadInputError as exc:
                log.warning("skipping %s", exc)
                skipped.append(str(exc))
                continue
            chunks = chunk_article(article, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
            batch.append((article, digest, chunks))
        if not batch:
            continue
        # The title travels with each passage: it often names the subject the passage leaves implicit.
        vectors = embed([f"{c.title}\n{c.text}" for _, _, chunks in batch for c in chunks])
        with writing(index_dir, build) as writer:
            row = 0
            for article, digest, chunks in batch:
                writer.put(article, digest, chunks, vectors[row:row + len(chunks)])
                row += len(chunks)
        present.update(article.source for article, _, _ in batch)
        embedded += len(batch)
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


def _file_hash(path: Path, max_bytes: int) -> str | None:
    """The SHA-256 of a regular file's bytes; None for anything load_article will refuse anyway
    (links, special files, oversized files), so that it is read and the reason reported."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > max_bytes:
            return None
        return sha256_file(path)
    except OSError:
        return None
