"""Bring an index in line with a folder of articles, reading and embedding only what changed.

Each file is compared with the index by the SHA-256 of its bytes (`plan_sync`): new files are
added, changed ones re-chunked and re-embedded, deleted (or no longer usable) ones removed, and
unchanged ones not read past their hash, unless the index's articles were read by older rules
(rag.loading's READER_VERSION, rag.injection's RULES): those are read again, and an article whose
passages and title come out as indexed keeps them, nothing embedded (its metadata and whether it
speaks to the assistant as read now); the others are embedded again. A dump
or feed (many articles in one file) that changed is read again, but only its rows or entries
whose text changed are embedded; rows gone from it are removed. Work is committed in batches of
BATCH_ARTICLES articles, so a build of a large archive that is killed keeps the batches it
finished, and another writer (the UI adding an article) waits for one batch, not for the whole
build. Embedding runs outside the write transaction; if another writer indexed the same file
meanwhile, the batch replaces it with the same content. A file that changes between its hash and
its reading is indexed as read, under the old hash, so the next sync reads it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.chunking import chunk_article
from rag.config import Settings
from rag.embedding import load_embedder, passage_text
from rag.errors import BadInputError, IndexUnusableError, RagError
from rag.index import (Build, IndexedFiles, catalog_counts, indexed_files, indexed_passages, indexed_texts,
                       writing)
from rag.loading import (SUPPORTED_SUFFIXES, Listing, article_files, byte_limit, file_name, file_type, known_as,
                         load_or_skip, opened)
from rag.schema import Article, Chunk, IndexInfo

log = logging.getLogger(__name__)

# Articles per write transaction: 500 news articles are about 3,000 passages, about a minute of
# embedding on 2 cores (the vector file is rewritten only once a tenth of it has changed:
# rag.index.REWRITE_SHARE).
BATCH_ARTICLES = 500
# Passages embedded at a time by the local embedder, so the progress bar moves between commits.
EMBED_SLICE = 256
# A file's stat is trusted (its SHA-256 not computed again) only if the file had not changed for
# this long when it was hashed: a change in the same tick of the file system's clock as the one
# before leaves its times as they were (git's "racily clean" files).
SETTLED_NS = 1_000_000_000


@dataclass
class SyncPlan:
    """What a sync of `folder` into an index would do: decided by file hashes alone (plan_sync),
    or also by reading new and changed files (dry_run)."""

    new: list[tuple[Path, str]] = field(default_factory=list)  # (file, SHA-256)
    changed: list[tuple[Path, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # indexed names no longer in the folder, or refused now
    unchanged: list[str] = field(default_factory=list)
    # Indexed names in a sub-folder that could not be listed: kept as they are, unread.
    kept: list[str] = field(default_factory=list)
    # The files hashed, for the next plan: name -> (stat, when hashed, SHA-256) (Writer.hashed).
    hashed: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    # Unchanged, but read by older rules (rag.loading's, rag.injection's): read again, and only the
    # articles whose passages or title changed embedded (Writer.keep keeps the others).
    read_again: list[tuple[Path, str]] = field(default_factory=list)
    # Whether the index's articles were read by older rules: a file read again (changed or not)
    # has its articles compared by passages and title, not by text alone.
    other_rules: bool = False
    # "name: reason" of each file that is not read (a link, a pipe, another type, over the size
    # limit); after dry_run, also of each one read and refused, and "name, row 7: reason" of rows
    refused: list[str] = field(default_factory=list)


def plan_sync(folder: Path, listing: Listing, index_dir: Path, build: Build, max_file_bytes: int,
              max_archive_bytes: int) -> SyncPlan:
    """Compare a folder's files (`article_files`, listed by the caller before the model loads, so
    that a missing folder is refused first) with the index, each by its name within the folder
    (file_name). A sub-folder that could not be listed is refused, and what was indexed from it
    is kept as it is: its files may all be there still (a permission changed, a mount failed),
    and removing them would lose what the next sync, once it can list them, must embed again.
    Nothing is written; an index built otherwise counts as empty."""
    indexed = indexed_files(Path(index_dir), build)
    plan = SyncPlan(other_rules=indexed.read_by_other_rules)
    for reason, inside in zip(listing.reasons(), listing.unlisted):
        kept = sorted(name for name in indexed.hashes if name.startswith(f"{inside}/"))
        plan.refused.append(reason + (f"; the {len(kept)} files indexed from it are kept" if kept else ""))
        plan.kept += kept
    names = set(plan.kept)
    for path in listing.files:
        name = file_name(folder, path)
        try:
            digest = _digest(path, name, indexed, plan, *byte_limit(path, max_file_bytes, max_archive_bytes))
        except BadInputError as exc:
            plan.refused.append(known_as(str(exc), path, name))
            continue
        names.add(name)
        if name not in indexed.hashes:
            plan.new.append((path, digest))
        elif indexed.hashes[name] != digest:
            plan.changed.append((path, digest))
        elif indexed.read_by_other_rules:
            plan.read_again.append((path, digest))
        else:
            plan.unchanged.append(name)
    plan.removed = sorted(set(indexed.hashes) - names)
    return plan


def dry_run(folder: Path, listing: Listing, index_dir: Path, build: Build, settings: Settings) -> SyncPlan:
    """plan_sync, with the new and changed files read (not embedded) by the function the sync
    reads them with: one it would skip once read (empty, binary, page furniture only) is refused
    with the sync's reason, and removed if it was indexed; so are a dump's unusable rows."""
    plan = plan_sync(folder, listing, index_dir, build, settings.max_file_bytes, settings.max_archive_bytes)
    for entries in (plan.new, plan.changed):  # in the sync's order, so the reasons come in its order
        for path, digest in list(entries):
            name = file_name(folder, path)
            articles, left_out = load_or_skip(path, settings.max_file_bytes, settings.max_archive_bytes, name)
            plan.refused += left_out
            if not articles:
                entries.remove((path, digest))
                if entries is plan.changed:
                    plan.removed.append(name)
    plan.removed.sort()
    return plan


def build_for(settings: Settings) -> Build:
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    if settings.chunk_tokens > embedder.max_tokens:  # the model would read only the start of each passage
        raise BadInputError(f"chunk_tokens is {settings.chunk_tokens}, but {settings.embedding_model} reads at most "
                            f"{embedder.max_tokens} tokens of a passage: set chunk_tokens to {embedder.max_tokens} "
                            "or less")
    return Build(embedding_model=settings.embedding_model, dimension=embedder.dimension,
                 chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)


def sync_folder(source_dir: Path, index_dir: Path, settings: Settings, *,
                embed: Callable[[list[str]], np.ndarray] | None = None, progress: bool = True) -> IndexInfo:
    """Make the index at index_dir hold exactly the usable articles of source_dir. `embed`
    replaces the local embedder's `embed` (rag.distributed runs it on a Ray cluster)."""
    started = time.perf_counter()
    folder, index_dir = Path(source_dir), Path(index_dir)
    listing = article_files(folder)  # a missing or empty folder is refused before the model loads
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    build = build_for(settings)
    plan = plan_sync(folder, listing, index_dir, build, settings.max_file_bytes, settings.max_archive_bytes)
    # Files whose articles are indexed, read again: of these, the rows with the same text are kept
    # (read by other rules, with the same passages and title).
    indexed_again = plan.changed + plan.read_again
    changed = {file_name(folder, path) for path, _ in indexed_again}

    encode, remote = embed or embedder.embed, embed is not None

    def chunk(article: Article) -> list[Chunk]:
        return chunk_article(article, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)

    bar = _progress(len(plan.new) + len(indexed_again), progress)
    skipped = list(plan.refused)
    for reason in skipped:
        log.warning("skipping %s", reason)
    read: set[str] = set()  # the sources of the articles read from new, changed and re-judged files
    counts = {"embedded": 0, "passages": 0}
    batch: list[_Pending] = []
    for path, digest in plan.new + indexed_again:
        name = file_name(folder, path)
        articles, left_out = load_or_skip(path, settings.max_file_bytes, settings.max_archive_bytes, name)
        for reason in left_out:
            log.warning("skipping %s", reason)
        skipped += left_out
        if not articles:
            bar.update(1)
            continue
        # A dump or feed that changed is mostly the same rows: those indexed with the same text
        # are kept as they are, neither embedded nor chunked again (eval/archive_benchmark.py
        # --only dump: a row appended to a 2,000-row dump took 7.7 s with every row re-chunked,
        # 2.3 s without; embedding them all again took over 300 s).
        # Read by other rules, the same text may come out as other passages or another title: what
        # is embedded is compared (a passage's id holds its text's hash and offsets).
        if name not in changed:
            known = {}
        elif plan.other_rules:
            known = indexed_passages(index_dir, name)
        else:
            known = indexed_texts(index_dir, name)
        for article in articles:
            read.add(article.source)
            if plan.other_rules:
                chunks = chunk(article)
                if known.get(article.source) == (article.title, [c.id for c in chunks]):
                    chunks = None
            else:
                chunks = None if known.get(article.source) == article.content_hash else chunk(article)
            batch.append(_Pending(article, digest, chunks, 1 / len(articles)))
            if len(batch) == BATCH_ARTICLES:
                _commit(batch, index_dir, build, chunk, encode, remote, bar, counts, started)
                batch = []
    if batch:
        _commit(batch, index_dir, build, chunk, encode, remote, bar, counts, started)
    bar.close()
    if not read and not plan.unchanged and not plan.kept:
        raise BadInputError(f"no usable article in {folder}: " + "; ".join(skipped))

    removed = 0
    unchanged = set(plan.unchanged) | set(plan.kept)
    with writing(index_dir, build) as writer:
        if writer.started_again and not read:
            # The index was damaged or rebuilt with other settings after it was compared with
            # the folder: committing now would leave it empty.
            raise IndexUnusableError(f"the index at {index_dir} changed while it was synced: run `rag index` again")
        for source, file in writer.indexed().items():
            if source not in read and file not in unchanged:
                writer.remove(source)
                removed += 1
        # Articles kept unread were not read by today's rules: the next sync reads them all again.
        writer.synced(folder, every_article_read=not plan.kept)
        writer.hashed(plan.hashed)
    articles, passages = catalog_counts(index_dir)
    return IndexInfo(index_dir=str(index_dir), embedding_model=settings.embedding_model, dimension=build.dimension,
                     articles=articles, chunks=passages, skipped=skipped,
                     embedded=counts["embedded"], removed=removed, seconds=round(time.perf_counter() - started, 3))


def watch(source_dir: Path, sync: Callable[[], IndexInfo], *, every: float,
          report: Callable[[IndexInfo | Exception], None], stop: threading.Event | None = None) -> None:
    """Call `sync` (a sync of `source_dir`) now, then again whenever the folder's files change,
    looking every `every` seconds, until `stop` is set: for a folder that a feed reader, a script
    or a person keeps adding to. Each sync's result is `report`ed, and so is an error (a folder
    gone, a mount that failed, a full disk), once until it changes; watching goes on after it. A
    look lists the folder and reads each file's size and time (folder_state), never its bytes, so
    looking at an archive that has not changed reads nothing: a sync is run only when something
    changed, and has stopped changing (settled)."""
    stop = stop or threading.Event()
    seen, failed = None, None
    while True:
        try:
            state = folder_state(source_dir)
            if state != seen:
                state = settled(source_dir, state, min(SETTLE_S, every), every, stop)
                if stop.is_set():
                    return
                info = sync()
                # The state looked at before the sync: a file that changed during it is synced next time.
                seen, failed = state, None
                report(info)
        except (RagError, OSError) as exc:
            if str(exc) != failed:
                failed = str(exc)
                report(exc)
        if stop.wait(every):
            return


# A file being copied in (a PDF from a mounted drive, a feed reader writing its file) changes
# between two looks a moment apart; read half-way, a PDF cut short was reported unreadable, and
# the file read again at the next look. So a change is synced once two looks this far apart
# agree, or once a whole `every` has gone by (a file written to all the time is synced anyway).
SETTLE_S = 2.0


def settled(folder: Path, state: frozenset, pause: float, longest: float, stop: threading.Event) -> frozenset:
    """The folder's state once two looks `pause` seconds apart agree (or `longest` seconds have
    gone by, or `stop` is set), starting from `state`, just looked at."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline and not stop.wait(pause):
        again = folder_state(folder)
        if again == state:
            break
        state = again
    return state


def folder_state(folder: Path) -> frozenset:
    """What watch compares between looks: each listed file's name, size and modification time,
    and the sub-folders that could not be listed."""
    listing = article_files(folder)
    state = set(listing.unlisted.items())
    for path in listing.files:
        try:
            info = os.lstat(path)
        except OSError:  # gone since the listing: the next look will not list it
            continue
        state.add((str(path), info.st_size, info.st_mtime_ns))
    return frozenset(state)


@dataclass
class _Pending:
    """An article read and waiting for its batch's commit."""

    article: Article
    file_hash: str
    chunks: list[Chunk] | None  # None: indexed already with this text, kept as it is
    weight: float  # its share of its file, for the progress bar


def _commit(batch: list[_Pending], index_dir: Path, build: Build, chunk: Callable[[Article], list[Chunk]],
            embed: Callable[[list[str]], np.ndarray], remote: bool, bar, counts: dict, started: float) -> None:
    """Embed the batch's new passages (outside the write transaction) and write them in one."""
    texts = [passage_text(c) for item in batch for c in item.chunks or []]
    ends = np.cumsum([len(item.chunks or []) for item in batch])  # each article's last passage + 1
    weights = np.cumsum([item.weight for item in batch])
    step = max(len(texts), 1) if remote else EMBED_SLICE  # Ray pays a start-up per call: one call a batch
    pieces, shown = [], 0.0
    for start in range(0, len(texts) or 1, step):
        pieces.append(embed(texts[start:start + step]) if texts else np.zeros((0, build.dimension), np.float32))
        counts["passages"] += len(pieces[-1])
        done = int(np.searchsorted(ends, start + len(pieces[-1]), side="right"))  # articles embedded whole
        if done:
            bar.update(float(weights[done - 1]) - shown)
            shown = float(weights[done - 1])
        bar.set_postfix_str(f"{counts['passages'] / (time.perf_counter() - started):.0f} passages/s")
    vectors = np.concatenate(pieces)
    with writing(index_dir, build) as writer:
        row = 0
        for item in batch:
            chunks = item.chunks
            if chunks is None:
                if writer.keep(item.article, item.file_hash):
                    continue
                # Another writer changed or removed it since the comparison: embed it after all.
                chunks = chunk(item.article)
                own = embed([passage_text(c) for c in chunks])
            else:
                own, row = vectors[row:row + len(chunks)], row + len(chunks)
            writer.put(item.article, item.file_hash, chunks, own)
            counts["embedded"] += 1
    bar.update(float(weights[-1]) - shown)


def _progress(files: int, shown: bool):
    """Files done of those to read, with the time left; passages per second beside it."""
    from tqdm import tqdm

    # A dump moves the bar by its share per article, so the count of files done can be fractional.
    return tqdm(total=files, unit="file", desc="indexing", disable=not shown or files == 0,
                bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} files [{elapsed}<{remaining}{postfix}]")


def _digest(path: Path, name: str, indexed: IndexedFiles, plan: SyncPlan, max_bytes: int, setting: str) -> str:
    """The file's SHA-256: the one indexed, when the file's stat (size, times, inode) is as it was
    when that was computed and the file had not changed for SETTLED_NS before; else the file is
    read and hashed, and its stat kept in `plan.hashed`. Every upload in the web app is a sync, and
    hashing every file took 0.09-0.14 s for the 2,224 BBC files (0.4 s from a cold page cache),
    so some 7 s over 150,000 files; by stat, 0.04 s (0.1 s cold; eval/HISTORY.md, session 23). A
    file that is no regular file or no longer fits the size limit is hashed, which refuses it with
    the reason."""
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        seen = _stat_key(info)
        recorded = indexed.stats.get(name)
        if (recorded and recorded[0] == seen and indexed.hashes.get(name) == recorded[2] and info.st_size <= max_bytes
                and file_type(path) in SUPPORTED_SUFFIXES
                and max(info.st_mtime_ns, info.st_ctime_ns) < recorded[1] - SETTLED_NS):
            return recorded[2]
    hashed_ns = time.time_ns()
    digest = _file_hash(path, name, max_bytes, setting)
    if info is not None:
        plan.hashed[name] = (_stat_key(info), hashed_ns, digest)
    return digest


def _stat_key(info: os.stat_result) -> str:
    return f"{info.st_size} {info.st_mtime_ns} {info.st_ctime_ns} {info.st_ino} {info.st_dev}"


def _file_hash(path: Path, name: str, max_bytes: int, setting: str) -> str:
    """The SHA-256 of the file's bytes; BadInputError, as reading it would give, for a file that
    is not read (a link, a pipe, another type, over the size limit, a linked folder on its path)."""
    with opened(path, max_bytes, setting, name) as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
