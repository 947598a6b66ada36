"""The on-disk index: one SQLite database (articles, passages, their FTS5 keyword index, the
words each article uses) and the FAISS vector file it names (rag.vectors). The format is
documented in index/README.md.

Readers call load_index(): the committed state, cached per generation (a counter every commit
raises), so a question keeps the index it started with and the next question sees a new commit.
Passages are read from the database only when a ranking picks them, never all at once.

Writers use `writing()`: one SQLite write transaction (BEGIN IMMEDIATE, so writers in any
process take turns) that edits articles and passages and records their vectors' changes since the
vector file was written (tables vectors_added and vectors_removed, which readers search beside the
file: rag.vectors.Layered); once those reach a share of the archive the commit writes a new vector
file instead, which the same commit names. A reader therefore never sees passages without vectors or the reverse, and
kill -9 at any moment leaves the last commit: SQLite's journal undoes a half-done transaction, and
a vector file no commit names is deleted by the next writer.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

from rag import vectors as vector_file
from rag.errors import BadInputError, IndexUnusableError
from rag.injection import RULES as INJECTION_RULES
from rag.loading import READER_VERSION
from rag.models import sha256_file
from rag.schema import Article, ArticleRecord, Chunk
from rag.scope import Scope, outlet_holds
from rag.text import WORD, folded, name_key, script

FORMAT = "rag-news-index"
VERSION = 5  # 3: an article records the file, row or entry and URL it came from; 4: and whether it
# speaks to the assistant; 5: vectors changed since the vector file was written are in the database
# An index of version 4 is read as it is, and brought to version 5 in place by the next writer (its
# vector file holds every passage's vector: nothing is embedded again).
VERSION_4 = 4
DATABASE = "index.sqlite"
# Version 1 kept everything in JSON files named by this manifest; it is rebuilt, not read.
VERSION_1_MANIFEST = "manifest.json"
# A query word found in more passages than this is left out of the keyword search: FTS5 scores
# every passage a word is in, so its time grows with the archive (eval/archive_benchmark.py:
# 10 ms a question at 10,000 passages, 98 ms at 100,000, with every word kept). Such a word adds
# little to BM25 (its IDF is at most log(n / 10,000)); an index of up to 20,000 passages never
# meets this limit before the "more than half" one.
KEYWORD_POSTINGS = 10_000
# Article records a generation keeps once read (the passages of a few questions' worth).
RECORDS_HELD = 4096
# Scopes whose passages a generation keeps (StoredIndex.rows_in): a server's readers may try many,
# and one over a million passages holds 8 MB.
SCOPES_HELD = 8
# Words looked up in one statement (SQLite allows 32,766 parameters).
_LOOKUPS = 5_000
# The vector file is rewritten when the passages added and removed since it was written reach this
# share of those it holds, or REWRITE_AFTER passages; until then a commit records them in the
# database. Rewriting costs the archive's size (a million passages: a 1.5 GB file read, written and
# hashed, 5.8-10.4 s a commit), recording costs the change's (0.02-0.07 s), and every load reads
# what is recorded, searched exactly beside the file: 20,000 vectors are about 2 ms a question
# (exact search: 12.7 ms at 100,000). eval/archive_benchmark.py, README "A news archive".
REWRITE_SHARE = 0.1
REWRITE_AFTER = 20_000
# A writer waits this long for another writer's transaction (a batch of articles) to end.
WRITER_WAIT_SECONDS = 600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    outlet TEXT,
    dates TEXT NOT NULL,
    published TEXT,
    author TEXT,
    pages TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    origin TEXT,
    url TEXT,
    addresses_assistant INTEGER NOT NULL,
    file_hash TEXT NOT NULL,
    added TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_by_file ON articles(file);
-- What a library file's stat said when it was hashed (rag.sync: a file whose stat is the same is
-- not read again), and when: "size mtime_ns ctime_ns inode device", nanoseconds, its SHA-256.
CREATE TABLE IF NOT EXISTS file_stats (
    file TEXT PRIMARY KEY,
    stat TEXT NOT NULL,
    hashed_ns INTEGER NOT NULL,
    file_hash TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS chunks_indexed AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_unindexed AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS words (
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    word TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (article_id, word)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS words_by_word ON words(word);
CREATE INDEX IF NOT EXISTS words_by_key ON words(key);
CREATE TABLE IF NOT EXISTS vectors_added (
    id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors_removed (id INTEGER PRIMARY KEY);
"""

log = logging.getLogger(__name__)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=WRITER_WAIT_SECONDS, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA foreign_keys = ON")
    db.create_function("outlet_holds", 2, outlet_holds, deterministic=True)  # a Scope's outlet
    return db


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- reading


@dataclass
class StoredIndex:
    """A committed state of the index: its settings in memory; its articles, passages and the
    words they use read on demand; its vectors shared by the generations that name their file."""

    path: Path
    meta: dict
    articles: Mapping[str, ArticleRecord]  # by source file name (Articles: read when asked for)
    vectors: vector_file.Layered  # ids = chunk row ids
    last_row: int  # the highest chunk row id of this generation
    _db: sqlite3.Connection = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _scoped: dict[Scope, np.ndarray] = field(default_factory=dict, repr=False)  # rows_in's, by scope

    @property
    def size(self) -> int:
        return self.vectors.ntotal

    @cached_property
    def years(self) -> set[str]:
        """The years its articles are from (ArticleRecord.date: published, else the latest date stated)."""
        with self._lock:
            return {year for year, in self._db.execute(f"SELECT DISTINCT substr({_ARTICLE_DATE}, 1, 4) FROM articles a")
                    if year}

    def rows_in(self, scope: Scope) -> np.ndarray:
        """The row ids of the passages of the articles in `scope` (rag.scope), ascending; found
        once per scope and generation, so a conversation kept to one scope pays for it once."""
        if (rows := self._scoped.get(scope)) is None:
            where, arguments = _scope_condition(scope)
            with self._lock:
                found = self._db.execute(f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id "
                                         f"WHERE c.id <= ? AND {where} ORDER BY c.id", (self.last_row, *arguments))
                rows = np.fromiter((row for row, in found), dtype=np.int64)
                while len(self._scoped) >= SCOPES_HELD:  # the oldest first: a dict keeps its order
                    self._scoped.pop(next(iter(self._scoped)))
                self._scoped[scope] = rows
        return rows

    def search(self, query_vector: np.ndarray, k: int, scope: Scope | None = None) -> list[tuple[int, float]]:
        """The k passages closest to query_vector: (row id, cosine), closest first; with a scope,
        among its passages only."""
        return self.vectors.search(query_vector, k, self.rows_in(scope) if scope else None)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        return self.vectors.vectors_of(ids)

    def keyword_search(self, query: str, k: int, scope: Scope | None = None) -> list[int]:
        """Row ids of the k best passages by FTS5's BM25 for any of the query's words (with a
        scope, among its passages only: SQLite reads its articles' passages once per question).

        Words in more than half the passages are left out: BM25 gives them no weight (FTS5 floors
        such an IDF at 1e-6), and matching them would make SQLite score most of the archive. So
        are words in more than KEYWORD_POSTINGS passages, which would make the search slow.
        (Dropping Lucene's English stop words too, as the earlier bm25s index did, lost 3 points
        of recall@1 on each eval split and 0.2 on the SQuAD paragraphs.)

        FTS5 itself counts a word's passages, reading no further than the limit: so the word is
        the one its tokenizer stores (PyStemmer's Porter stems "is" to "i" and "s" to "", which
        FTS5 leaves whole, so a lookup by stem missed them and "is" was matched in most of the
        archive), and a frequent word costs the limit, not every passage it is in (fts5vocab
        counts them all: 68 ms a question at a million passages, eval/archive_benchmark.py).
        """
        words = sorted(set(re.findall(r"\w+", query.lower())))
        limit = int(min(self.size / 2, KEYWORD_POSTINGS))
        with self._lock:
            wanted = [w for w in words if self._db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
                (f'"{w}"', limit + 1)).fetchone()[0] <= limit]
            if not wanted:
                return []
            match = " OR ".join(f'"{w}"' for w in wanted)
            within, arguments = "", ()
            if scope:
                # "+rowid": the scope's rows are a list SQLite checks each match against. Given to
                # FTS5 as a constraint, it ran the query once per row of the list: 3.6-8.4 s for a
                # folder of 5,000 passages among 100,000 (0.04 s so; eval/HISTORY.md, session 34).
                where, arguments = _scope_condition(scope)
                within = f"AND +rowid IN (SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id " \
                         f"WHERE {where})"
            # Rows added by later commits have no vector in this generation: ids only grow, so
            # they are the ones above last_row.
            return [row for row, in self._db.execute(
                f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid <= ? {within} ORDER BY rank LIMIT ?",
                (match, self.last_row, *arguments, k))]

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        """The passages with these row ids (any deleted by a later commit are missing)."""
        if not ids:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.key, a.source, a.title, c.text, c.start, c.end, c.position, a.published FROM chunks c "
                f"JOIN articles a ON a.id = c.article_id WHERE c.id IN ({','.join('?' * len(ids))})", list(ids))
            return {row[0]: Chunk(*row[1:]) for row in rows}

    def all_chunks(self) -> Iterator[Chunk]:
        """Every passage, by article and position (for tools and tests; retrieval never scans)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.key, a.source, a.title, c.text, c.start, c.end, c.position, a.published FROM chunks c "
                "JOIN articles a ON a.id = c.article_id ORDER BY a.source, c.position").fetchall()
        return (Chunk(*row) for row in rows)

    def row_ids(self) -> list[int]:
        with self._lock:
            return [row for row, in self._db.execute("SELECT id FROM chunks ORDER BY id")]

    def articles_using(self, words: Iterable[str]) -> dict[str, int]:
        """How many articles use each of these lower-cased words, for those any article uses
        (respelling, the place a question names). Looked up, not held: the vocabulary of 150,000
        articles is 627,000 words, 1.6 s to read for every generation."""
        words, used = list(words), {}
        with self._lock:
            for start in range(0, len(words), _LOOKUPS):
                batch = words[start:start + _LOOKUPS]
                used.update(self._db.execute(f"SELECT word, count(*) FROM words WHERE word IN "
                                             f"({','.join('?' * len(batch))}) GROUP BY word", batch))
        return used

    @cached_property
    def scripts(self) -> set[str]:
        """The scripts the articles' words are written in (rag.text.script of each word's first
        letter), from the distinct first letters: one index seek each, not a scan of every word."""
        with self._lock:
            firsts = [first for first, in self._db.execute(
                "WITH RECURSIVE first(letter) AS (SELECT substr(min(word), 1, 1) FROM words UNION ALL "
                "SELECT (SELECT substr(min(word), 1, 1) FROM words WHERE word >= char(unicode(letter) + 1)) "
                "FROM first WHERE letter IS NOT NULL) SELECT letter FROM first WHERE letter IS NOT NULL")]
        return {script(letter) for letter in firsts}

    def sources_naming(self, keys: set[str]) -> set[str]:
        """The articles that use a word of every name_key in `keys` ("Turkey" counts for "türk")."""
        if not keys:
            return set(self.articles)
        with self._lock:
            return {source for source, in self._db.execute(
                "SELECT a.source FROM words w JOIN articles a ON a.id = w.article_id "
                f"WHERE w.key IN ({','.join('?' * len(keys))}) GROUP BY w.article_id "
                "HAVING count(DISTINCT w.key) = ?", [*keys, len(keys)])}


# An article's date in SQL, as ArticleRecord.date gives it: published, else the latest date stated.
_ARTICLE_DATE = "coalesce(nullif(a.published, ''), (SELECT max(value) FROM json_each(a.dates)))"


def _scope_condition(scope: Scope) -> tuple[str, tuple]:
    """The SQL condition (over articles `a`) and its arguments that keep the articles in `scope`.
    Dates compare as ISO text cut to the bound's length, so until "2024" keeps "2024-12-31"."""
    conditions, arguments = [], []
    if scope.since:
        conditions.append(f"substr({_ARTICLE_DATE}, 1, ?) >= ?")
        arguments += [len(scope.since), scope.since]
    if scope.until:
        conditions.append(f"substr({_ARTICLE_DATE}, 1, ?) <= ?")
        arguments += [len(scope.until), scope.until]
    if scope.within:
        conditions.append("(a.file = ? OR substr(a.file, 1, ?) = ?)")
        arguments += [scope.within, len(scope.within) + 1, scope.within + "/"]
    if scope.outlet:
        conditions.append("outlet_holds(a.outlet, ?)")
        arguments.append(scope.outlet)
    return " AND ".join(conditions) or "1", tuple(arguments)


class Articles(Mapping[str, ArticleRecord]):
    """The articles of an index by source, each read from the database when first asked for (the
    passages shown, their citations): a generation holds none of them whole. Read whole, the
    records of 150,000 articles took 1.3-1.5 s for every generation, the next question after a
    commit waiting on it, and 4 cached generations held 4 copies. Like the passages they are read
    as committed now: an article a later commit removed is missing (`get` gives None)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, index_dir: Path):
        self._db, self._lock, self._index_dir = db, lock, index_dir
        self._read = lru_cache(maxsize=RECORDS_HELD)(self._record)

    def __getitem__(self, source: str) -> ArticleRecord:
        record = self._read(source)
        if record is None:
            raise KeyError(source)
        return record

    def _record(self, source: str) -> ArticleRecord | None:
        with self._lock, _refusing_damage(self._index_dir):
            rows = _article_records(self._db, "WHERE source = ?", (source,))
        return rows[0] if rows else None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter([source for source, in self._db.execute("SELECT source FROM articles ORDER BY source")])

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM articles").fetchone()[0]


def load_index(index_dir: Path, embedding_model: str) -> StoredIndex:
    """The index at index_dir, refusing one that is missing, damaged or built with another model.
    Cached per generation, so a new commit is picked up by the next call."""
    index_dir = Path(index_dir).resolve()
    for _ in range(3):
        generation = _generation(index_dir)
        try:
            stored = _load(index_dir, generation)
            break
        except _VectorsReplaced:
            if _generation(index_dir) == generation:
                raise _damaged(index_dir, "the vector file it names is missing") from None
            # Commits landed while this load read an earlier one's vector file: read again.
    else:
        raise IndexUnusableError(f"the index at {index_dir} changed three times while it was read: try again")
    built_with = stored.meta.get("embedding_model")
    if built_with != embedding_model:
        raise IndexUnusableError(
            f"the index at {index_dir} was built with embedding model {built_with!r}, but the settings "
            f"use {embedding_model!r}: rebuild it with `rag index DIR` or set embedding_model={built_with!r}"
        )
    return stored


class _VectorsReplaced(Exception):
    pass


def read_catalog(index_dir: Path) -> tuple[dict, list[ArticleRecord]]:
    """The index's settings and its articles (by name), without loading vectors."""
    index_dir = Path(index_dir)
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        return _meta(db), _article_records(db)


def read_meta(index_dir: Path) -> dict:
    """The index's settings (read_catalog's first part), without reading its articles: those of
    150,000 articles take 2.7 s to read (eval/HISTORY.md, session 23)."""
    index_dir = Path(index_dir)
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        return _meta(db)


def catalog_counts(index_dir: Path) -> tuple[int, int]:
    """(articles, passages) of the index, counted in the database, not read."""
    index_dir = Path(index_dir)
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        return (db.execute("SELECT count(*) FROM articles").fetchone()[0],
                db.execute("SELECT count(*) FROM chunks").fetchone()[0])


def find_records(index_dir: Path, text: str = "", limit: int = 200,
                 scope: Scope | None = None) -> tuple[list[ArticleRecord], int]:
    """The articles that hold every word of `text`, each word in their title, name, outlet, author or
    dates (from a word's start, whatever the case and accents) or in any of their passages (FTS5, as the keyword search
    reads them: "zurich" finds "Zürich", "talks" "talk"); all of them for no text; by name: the
    first `limit`, and how many there are. Searched in the database, so that a library of 150,000
    articles is not read whole to show a page of it (read_catalog takes 2.7 s there, and its table
    was 17.5 MB for the browser: eval/HISTORY.md, session 23).

    Word by word, so that "sport chelsea" over the BBC archive finds the 64 sport stories (the
    section is in their file name) that name Chelsea (in their text), not 15 as when every word
    had to be in the metadata or all in one passage (eval/HISTORY.md, session 30). A word written
    with inner punctuation is found as written: "2004-12" in the dates, not "2004" and "12"
    anywhere; "Russia-Ukraine", "O'Neill" or "AT&T" in a passage as a phrase, its parts side by side.
    With a `scope` (rag.scope), only its articles."""
    index_dir = Path(index_dir)
    words = list(dict.fromkeys(filter(None, (_EDGES.sub("", typed) for typed in folded(text).split()))))
    where, arguments = _scope_condition(scope or Scope())
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        if not words:
            total = db.execute(f"SELECT count(*) FROM articles a WHERE {where}", arguments).fetchone()[0]
            ids = [row for row, in db.execute(f"SELECT id FROM articles a WHERE {where} ORDER BY source LIMIT ?",
                                              (*arguments, limit))]
        else:
            rows = db.execute(  # every article's metadata, matched in Python: SQLite's LIKE folds ASCII only
                "SELECT id, title || ' ' || source || ' ' || coalesce(outlet, '') || ' ' || coalesce(author, '') "
                f"|| ' ' || coalesce(published, '') || ' ' || dates FROM articles a WHERE {where} ORDER BY source",
                arguments).fetchall()
            by_name, metadata = [row for row, _ in rows], [folded(written or "") for _, written in rows]
            found = None
            for word in words:
                # The passages found are matched to their articles through the index on chunks'
                # article ids, read whole, not one table row each: over a million passages "the"
                # took 12.9 s from a cold page cache (the passages' text read with their ids),
                # 0.76 s so (eval/HISTORY.md, session 24).
                tokens = _TOKEN.findall(word)  # as FTS5's unicode61 splits text: "at&t" -> at t
                holding = set(chain.from_iterable(db.execute(
                    "SELECT DISTINCT article_id FROM chunks INDEXED BY chunks_by_article WHERE id IN "
                    "(SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?)", (f'"{" ".join(tokens)}"',)))
                ) if tokens else set()
                starting = re.compile(r"(?<![^\W_])" + re.escape(word))  # at a word's start: "war" not in "toward"
                holding.update(row for row, written in zip(by_name, metadata)
                               if word in written and starting.search(written))
                found = holding if found is None else found & holding
                if not found:
                    break
            found = [row for row in by_name if row in found]
            total, ids = len(found), found[:limit]
        return _article_records(db, f"WHERE id IN ({', '.join('?' * len(ids))})", tuple(ids)), total


# A typed word's edges ("talks?", "(BBC)") are not part of it; its inside is ("2004-12", "at&t"), and
# so are a name's closing "+" and "#" ("C++", "C#"): taken off, "c" was found at the start of nearly
# every title.
_EDGES = re.compile(r"^\W+|[^\w+#]+$")
_TOKEN = re.compile(r"[^\W_]+")


def read_record(index_dir: Path, source: str) -> ArticleRecord | None:
    """The record of the article `source` names, if the index holds it, without reading the others."""
    index_dir = Path(index_dir)
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        records = _article_records(db, "WHERE source = ?", (source,))
    return records[0] if records else None


def file_names(index_dir: Path, *, articles: bool = False) -> list[str]:
    """The names of the files the index's articles come from, in order (not their records); with
    `articles`, the articles' own names (a dump's rows are named apart from their file)."""
    index_dir, column = Path(index_dir), "source" if articles else "file"
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        return [name for name, in db.execute(f"SELECT DISTINCT {column} FROM articles ORDER BY {column}")]


def sources_of_texts(index_dir: Path, content_hashes: Iterable[str]) -> dict[str, str]:
    """content hash -> the source of an indexed article with that text, for those of
    `content_hashes` the index holds (looked up, not read whole)."""
    index_dir, wanted = Path(index_dir), sorted(set(content_hashes))
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        return dict(db.execute(f"SELECT content_hash, min(source) FROM articles WHERE content_hash IN "
                               f"({', '.join('?' * len(wanted))}) GROUP BY content_hash", wanted))


def index_size(index_dir: Path) -> dict:
    """Articles, passages and bytes on disk of the index at index_dir (zeros when there is none);
    IndexUnusableError when it is damaged, which is not the same as empty."""
    index_dir = Path(index_dir)
    articles, passages = catalog_counts(index_dir) if (index_dir / DATABASE).is_file() else (0, 0)
    files = [*index_dir.glob(f"{DATABASE}*"), *index_dir.glob("vectors-*.faiss")] if index_dir.is_dir() else []
    return {"articles": articles, "passages": passages, "bytes": sum(path.stat().st_size for path in files)}


def _generation(index_dir: Path) -> int:
    with _reading(index_dir) as db, _refusing_damage(index_dir):
        return int(_meta(db).get("generation", 0))


@contextmanager
def _reading(index_dir: Path) -> Iterator[sqlite3.Connection]:
    path = index_dir / DATABASE
    if not path.is_file():
        if (index_dir / VERSION_1_MANIFEST).exists():
            raise IndexUnusableError(f"the index at {index_dir} has the format of version 1 (manifest.json); "
                                     f"this version reads version {VERSION}: rebuild it with `rag index DIR`")
        raise IndexUnusableError(f"no index at {index_dir}: build one with `rag index DIR` (e.g. `rag index seeds`)")
    try:
        db = _connect(path)
    except sqlite3.Error as exc:
        raise _damaged(index_dir, exc) from None
    try:
        yield db
    finally:
        db.close()


@contextmanager
def _refusing_damage(index_dir: Path) -> Iterator[None]:
    """Reading the database: what a damaged one raises (a malformed file, a value that is not
    JSON or not a number, a setting missing) becomes the IndexUnusableError that names the fix."""
    try:
        yield
    except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as exc:
        raise _damaged(index_dir, exc) from None


def _damaged(index_dir: Path, exc: Exception | str) -> IndexUnusableError:
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return IndexUnusableError(f"the index at {index_dir} is damaged ({why}): rebuild it with `rag index DIR`")


def _meta(db: sqlite3.Connection) -> dict:
    return {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM meta")}


def _sound_meta(db: sqlite3.Connection) -> dict | None:
    """The index's settings, or None when they are damaged (a value that is not JSON, a
    generation that is not a number): a writer then starts the index again, since `rag index` is
    the fix load_index names for a damaged index."""
    try:
        meta = _meta(db)
        int(meta.get("generation", 0))
        return meta
    except (ValueError, TypeError):
        return None


def _article_records(db: sqlite3.Connection, where: str = "", arguments: tuple = ()) -> list[ArticleRecord]:
    """The articles table's rows (those `where` picks), as records, by source."""
    counts = dict(db.execute("SELECT article_id, count(*) FROM chunks "
                             f"WHERE article_id IN (SELECT id FROM articles {where}) GROUP BY article_id", arguments))
    return [ArticleRecord(source=source, title=title, outlet=outlet, dates=json.loads(dates), published=published,
                          author=author, pages=json.loads(pages), content_hash=content_hash,
                          chunks=counts.get(article_id, 0), added=added, file=file, origin=origin, url=url,
                          addresses_assistant=bool(addresses_assistant))
            for (article_id, source, title, outlet, dates, published, author, pages, content_hash, added, file, origin,
                 url, addresses_assistant) in db.execute(
                "SELECT id, source, title, outlet, dates, published, author, pages, content_hash, added, file, origin, "
                f"url, addresses_assistant FROM articles {where} ORDER BY source", arguments)]


@lru_cache(maxsize=4)
def _load(index_dir: Path, generation: int) -> StoredIndex:
    db = _connect(index_dir / DATABASE)
    try:
        with _refusing_damage(index_dir):
            db.execute("BEGIN")  # one snapshot for everything read here
            meta = _meta(db)
            if meta.get("format") != FORMAT or meta.get("version") not in (VERSION, VERSION_4):
                raise IndexUnusableError(f"{index_dir} holds format {meta.get('format')!r} "
                                         f"version {meta.get('version')!r}, not {FORMAT!r} version {VERSION}: "
                                         "rebuild it with `rag index DIR`")
            if meta.get("generation") != generation:
                raise _VectorsReplaced
            count, last_row = db.execute("SELECT count(*), coalesce(max(id), 0) FROM chunks").fetchone()
            path = _checked_vector_file(index_dir, meta)
            vectors = vector_file.Layered(_shared_vectors(path, _fingerprint(path, meta["vectors_sha256"])),
                                          *_recorded_vectors(db, meta))
            db.execute("COMMIT")
    except (IndexUnusableError, _VectorsReplaced):
        db.close()
        raise
    if vectors.ntotal != count or vectors.d != meta.get("dimension"):
        db.close()
        raise _damaged(index_dir, f"{vectors.ntotal} vectors of dimension {vectors.d} for {count} passages, "
                                  f"dimension {meta.get('dimension')} recorded")
    lock = threading.Lock()
    return StoredIndex(path=index_dir, meta=meta, articles=Articles(db, lock, index_dir), vectors=vectors,
                       last_row=last_row, _db=db, _lock=lock)


def _read_vectors(index_dir: Path, meta: dict):
    """The vector file the meta names, as written (without the changes recorded since): a copy of
    its own, for a writer to edit."""
    return _read_file(_checked_vector_file(index_dir, meta))


@lru_cache(maxsize=2)
def _shared_vectors(path: Path, fingerprint: tuple):
    """The vector file at path as read, shared by every generation that names it: it is never
    edited (a writer reads its own copy), and the fingerprint changes if the file is replaced."""
    return _read_file(path)


def _read_file(path: Path):
    try:
        return vector_file.read(path)
    except RuntimeError as exc:
        raise _damaged(path.parent, exc) from None


# path -> (inode, size, mtime, SHA-256) of each vector file this process found intact
_intact: dict[Path, tuple] = {}


def _checked_vector_file(index_dir: Path, meta: dict) -> Path:
    """The vector file the meta names, refused if its bytes changed since it was written: a flipped
    byte is otherwise read as a score of 3e36. Hashed once per process while its inode, size and
    mtime stay the same (a vector file is never edited, only replaced); SHA-256 ran at 1.1 GB/s on
    the 2-core test machine, about 1.4 s for a million passages."""
    path = index_dir / meta["vectors_file"]
    try:
        fingerprint = _fingerprint(path, meta.get("vectors_sha256"))  # taken before the bytes are read
        if _intact.get(path) == fingerprint:
            return path
        checksum = sha256_file(path)
    except FileNotFoundError:
        raise _VectorsReplaced from None
    except OSError as exc:
        raise _damaged(index_dir, exc) from None
    if checksum != meta.get("vectors_sha256"):
        raise _damaged(index_dir, f"{path.name} does not match the SHA-256 recorded when it was written")
    _intact[path] = fingerprint
    return path


def _fingerprint(path: Path, checksum: str | None) -> tuple:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, checksum


def _recorded_vectors(db: sqlite3.Connection, meta: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The changes recorded since the vector file was written (none in a version 4 index): ids and
    vectors added, ids removed. ValueError for a recorded vector of another length."""
    recorded = meta["version"] == VERSION
    count = db.execute("SELECT count(*) FROM vectors_added").fetchone()[0] if recorded else 0
    ids, vectors = np.zeros(count, np.int64), np.zeros((count, meta["dimension"]), np.float32)
    if recorded:
        for row, (i, vector) in enumerate(db.execute("SELECT id, vector FROM vectors_added ORDER BY id")):
            ids[row], vectors[row] = i, np.frombuffer(vector, dtype=np.float32)
    removed = [i for i, in db.execute("SELECT id FROM vectors_removed")] if recorded else []
    return ids, vectors, np.array(removed, dtype=np.int64)


def _recorded_changes(db: sqlite3.Connection) -> tuple[int, int]:
    """Vectors added and removed since the vector file was written."""
    return db.execute("SELECT (SELECT count(*) FROM vectors_added), (SELECT count(*) FROM vectors_removed)").fetchone()


# --- writing


@dataclass(frozen=True)
class Build:
    """What an index is built with: an index built otherwise is rebuilt, not extended."""

    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int

    def matches(self, meta: dict) -> bool:
        return all(meta.get(k) == v for k, v in vars(self).items()) and meta.get("version") in (VERSION, VERSION_4)


@dataclass
class IndexedFiles:
    """What a sync compares the folder with, read from one snapshot of the index; all empty when
    there is no usable index built as the sync's Build."""

    # file name -> SHA-256 of the file as indexed ("" when its articles were indexed from
    # different versions of it: a sync killed half-way through a dump)
    hashes: dict[str, str] = field(default_factory=dict)
    # file name -> (its stat when hashed, when, the SHA-256), as Writer.hashed recorded them
    stats: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    # The articles were read by other rules than today's: rag.loading's (READER_VERSION: their
    # passages, title and metadata) or rag.injection's (whether each speaks to the assistant, and
    # is trusted less). A sync reads them again.
    read_by_other_rules: bool = False


def indexed_files(index_dir: Path, build: Build) -> IndexedFiles:
    """The files indexed at index_dir, their hashes and stats, in one read."""
    try:
        with _reading(Path(index_dir)) as db:
            meta = _sound_meta(db)
            if meta is None or not build.matches(meta) or _vectors_held(Path(index_dir), meta, db) is None:
                return IndexedFiles()
            hashes = {file: digest if versions == 1 else "" for file, digest, versions in db.execute(
                "SELECT file, min(file_hash), count(DISTINCT file_hash) FROM articles GROUP BY file")}
            return IndexedFiles(hashes, _file_stats(db), (meta.get("injection_rules"), meta.get("reader"))
                                != (INJECTION_RULES, READER_VERSION))
    except (IndexUnusableError, sqlite3.DatabaseError):
        return IndexedFiles()


def _file_stats(db: sqlite3.Connection) -> dict[str, tuple[str, int, str]]:
    try:
        return {file: (stat, hashed_ns, digest) for file, stat, hashed_ns, digest in db.execute(
            "SELECT file, stat, hashed_ns, file_hash FROM file_stats")}
    except sqlite3.OperationalError:  # an index written before the table: its next write adds it
        return {}


def indexed_passages(index_dir: Path, file: str) -> dict[str, tuple[str, list[str]]]:
    """source -> (title, its passages' ids in order) of the articles indexed from `file`: what is
    embedded (rag.embedding.passage_text), compared when rules that read articles changed."""
    try:
        with _reading(Path(index_dir)) as db:
            found: dict[str, tuple[str, list[str]]] = {}
            for source, title, key in db.execute(
                    "SELECT a.source, a.title, c.key FROM articles a LEFT JOIN chunks c ON c.article_id = a.id "
                    "WHERE a.file = ? ORDER BY a.id, c.position", (file,)):
                found.setdefault(source, (title, []))[1].extend([key] if key is not None else [])
            return found
    except (IndexUnusableError, sqlite3.DatabaseError):
        return {}


def indexed_texts(index_dir: Path, file: str) -> dict[str, str]:
    """source -> content hash of the articles indexed from `file`."""
    try:
        with _reading(Path(index_dir)) as db:
            return dict(db.execute("SELECT source, content_hash FROM articles WHERE file = ?", (file,)))
    except (IndexUnusableError, sqlite3.DatabaseError):
        return {}


def _vectors_held(index_dir: Path, meta: dict, db: sqlite3.Connection) -> int | None:
    """How many vectors the file meta names holds, if it is intact and, with the changes recorded
    since it was written, gives one vector per passage; else None (what a reader refuses)."""
    try:
        if meta.get("version") == VERSION_4:  # its file holds every vector, and says how many
            held, added, removed = _read_vectors(index_dir, meta).ntotal, 0, 0
        else:
            _checked_vector_file(index_dir, meta)
            held = int(meta["vectors_count"])
            added, removed = _recorded_changes(db)
            if db.execute("SELECT 1 FROM vectors_added WHERE length(vector) != ? LIMIT 1",
                          (4 * int(meta["dimension"]),)).fetchone():
                return None
    except (IndexUnusableError, _VectorsReplaced, KeyError, TypeError, ValueError, sqlite3.DatabaseError):
        return None
    return held if held + added - removed == db.execute("SELECT count(*) FROM chunks").fetchone()[0] else None


class Writer:
    """The edits of one write transaction; `writing()` commits them."""

    def __init__(self, db: sqlite3.Connection, index_dir: Path, build: Build):
        self.db, self.index_dir, self.build = db, index_dir, build
        meta = _sound_meta(db)
        if meta is None:  # damaged: started again below, with settings written anew
            db.execute("DELETE FROM meta")
            meta = {}
        held = _vectors_held(index_dir, meta, db) if build.matches(meta) else None
        # New, built with other settings, or damaged: start again (in this same transaction).
        self.started_again = self.changed = held is None
        if self.started_again:
            db.execute("DELETE FROM articles")  # their passages and added vectors go with them
            db.execute("DELETE FROM vectors_removed")
            meta = {**meta, **vars(build), "version": VERSION, "vectors_count": 0}
        elif meta["version"] == VERSION_4:  # brought to this version: its tables exist now, empty
            meta = {**meta, "version": VERSION, "vectors_count": held}
            self._set(version=VERSION, vectors_count=held)
            self.changed = True
        self.meta = meta
        self.not_finite: list[str] = []  # articles put with a NaN or infinite vector: the commit refuses them
        self.stats_changed = False  # only the file stats: committed without a new generation

    def indexed(self) -> dict[str, str]:
        """source -> the file it came from, as this transaction sees them."""
        return dict(self.db.execute("SELECT source, file FROM articles"))

    def keep(self, article: Article, file_hash: str) -> bool:
        """Keep the article's passages as indexed, when its text is indexed as it is now, with
        the file's new hash and the article's metadata as it is now (a feed entry's place, a
        row's date may change with the same text); False when it is not, and must be put."""
        kept = self.db.execute(
            "UPDATE articles SET file_hash = ?, origin = ?, url = ?, published = ?, outlet = ?, author = ?, "
            "dates = ?, addresses_assistant = ? WHERE source = ? AND content_hash = ?",
            (file_hash, article.origin, article.url, article.published, article.outlet, article.author,
             json.dumps(sorted(article.dates)), article.addresses_assistant, article.source,
             article.content_hash)).rowcount > 0
        self.changed |= kept
        return kept

    def remove(self, source: str) -> None:
        row = self.db.execute("SELECT id FROM articles WHERE source = ?", (source,)).fetchone()
        if row is None:
            return
        self.db.execute("INSERT INTO vectors_removed SELECT id FROM chunks WHERE article_id = ? "
                        "AND id NOT IN (SELECT id FROM vectors_added)", row)
        self.db.execute("DELETE FROM articles WHERE id = ?", row)  # its chunks, words and added vectors go with it
        self.changed = True

    def put(self, article: Article, file_hash: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Add the article, replacing what is indexed under its name. An article whose text is
        unchanged keeps the time it was first added."""
        # Every vector enters the index here. A NaN one (a custom `embed` can return it: the Ray
        # path, another model) is never found by exact search and makes the IVF's training fail
        # at every later sync; it is kept out, and the commit refuses the whole transaction,
        # naming every such article of it, not only the first.
        if not np.isfinite(vectors).all():
            self.not_finite.append(article.source)
            return
        before = self.db.execute("SELECT content_hash, added FROM articles WHERE source = ?",
                                 (article.source,)).fetchone()
        added = before[1] if before and before[0] == article.content_hash else _now()
        self.remove(article.source)
        article_id = self.db.execute(
            "INSERT INTO articles (source, title, outlet, dates, published, author, pages, content_hash, file, origin, "
            "url, addresses_assistant, file_hash, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article.source, article.title, article.outlet, json.dumps(sorted(article.dates)), article.published,
             article.author, json.dumps(article.pages), article.content_hash, article.file, article.origin,
             article.url, article.addresses_assistant, file_hash, added)).lastrowid
        ids = [self.db.execute(
            "INSERT INTO chunks (key, article_id, position, start, end, text) VALUES (?, ?, ?, ?, ?, ?)",
            (c.id, article_id, c.position, c.start, c.end, c.text)).lastrowid for c in chunks]
        words = {w.lower() for text in [article.title, *(c.text for c in chunks)] for w in WORD.findall(text)}
        self.db.executemany("INSERT INTO words (article_id, word, key) VALUES (?, ?, ?)",
                            [(article_id, w, name_key(w)) for w in words])
        self.db.executemany("INSERT INTO vectors_added (id, vector) VALUES (?, ?)",
                            zip(ids, (v.tobytes() for v in np.asarray(vectors, dtype=np.float32))))
        self.changed = True

    def hashed(self, stats: dict[str, tuple[str, int, str]]) -> None:
        """Record the stats of the files hashed (file -> (stat, when, SHA-256): rag.sync), and forget
        those of files no article comes from any more."""
        self.db.executemany("INSERT OR REPLACE INTO file_stats (file, stat, hashed_ns, file_hash) VALUES (?, ?, ?, ?)",
                            [(file, *recorded) for file, recorded in stats.items()])
        forgotten = self.db.execute("DELETE FROM file_stats WHERE file NOT IN (SELECT file FROM articles)").rowcount
        self.stats_changed |= bool(stats) or forgotten > 0

    def synced(self, folder: Path, every_article_read: bool = True) -> None:
        """Record that the index now holds `folder`'s articles, and, if `every_article_read`,
        that every one was read by today's rag.loading and judged by today's rag.injection (else
        a sync reads them again)."""
        values = {"source_dir": str(Path(folder).resolve())}
        if every_article_read:
            values.update(injection_rules=INJECTION_RULES, reader=READER_VERSION)
        if any(self.meta.get(key) != value for key, value in values.items()):
            self._set(**values)
            self.changed = True

    def _set(self, **values) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                            [(k, json.dumps(v)) for k, v in values.items()])

    def _commit(self) -> str | None:
        """Commit, with a new vector file when the changes recorded since the last one are many
        (REWRITE_SHARE); the name of the file written, if any."""
        if self.not_finite:
            raise BadInputError(f"the embedding model gave vectors that are not finite (NaN or infinity) for "
                                f"{', '.join(self.not_finite)}: nothing of this batch is written and the last commit "
                                "is kept; check the embedding model, or remove the article")
        if not self.changed:
            # Readers see no other articles or passages: the stats alone need no new generation.
            self.db.execute("COMMIT" if self.stats_changed else "ROLLBACK")
            return None
        generation = int(self.meta.get("generation", 0)) + 1
        held = self.meta["vectors_count"]
        added, removed = _recorded_changes(self.db)
        count = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        if held + added - removed != count:  # a bug, not bad input: never commit it
            raise AssertionError(f"{count} passages but {held + added - removed} vectors")
        written = None
        if self.started_again or added + removed >= max(min(REWRITE_SHARE * held, REWRITE_AFTER), 1):
            written = self._write_vectors(f"vectors-{generation:06d}.faiss")
        if not self.meta.get("created") or self.started_again:
            self._set(created=_now())
        # The build's settings every time: an index started again for other ones now has these.
        self._set(format=FORMAT, version=VERSION, **vars(self.build), generation=generation, updated=_now())
        self.db.execute("COMMIT")
        return written

    def _write_vectors(self, name: str) -> str:
        """Write the vector file as of this transaction, named `name`, in place of the file and the
        changes recorded since it."""
        vectors = vector_file.empty(self.build.dimension) if self.started_again else _read_vectors(
            self.index_dir, self.meta)
        ids, added, removed = _recorded_vectors(self.db, self.meta)
        vector_file.remove(vectors, removed.tolist())
        vector_file.add(vectors, ids, added)
        fitted = vector_file.fitted(vectors, lambda: [i for i, in self.db.execute("SELECT id FROM chunks")])
        # Partial files are left by writers killed mid-write; none is running now: we hold the lock.
        for partial in self.index_dir.glob(".vectors-*.partial"):
            partial.unlink(missing_ok=True)
        partial = self.index_dir / f".{name}.partial"
        vector_file.write(fitted, partial)
        path = self.index_dir / name
        os.replace(partial, path)
        checksum = sha256_file(path)
        _intact[path] = _fingerprint(path, checksum)  # so that a reader in this process need not hash it again
        self._set(vectors_file=name, vectors_sha256=checksum, vectors_count=fitted.ntotal)
        self.db.execute("DELETE FROM vectors_added")
        self.db.execute("DELETE FROM vectors_removed")
        return name


@contextmanager
def writing(index_dir: Path, build: Build) -> Iterator[Writer]:
    """A write transaction on the index at index_dir (created if missing), committed when the
    block ends without an exception. Another writer waits meanwhile (WRITER_WAIT_SECONDS)."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    db = _open_for_writing(index_dir)
    written = None
    try:
        try:
            writer = Writer(db, index_dir, build)
            yield writer
            written = writer._commit()
        except (OSError, sqlite3.OperationalError) as exc:
            # A full disk, a file size limit, a folder made read-only: nothing of this transaction
            # is committed, and a partial vector file is deleted by the next writer.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise IndexUnusableError(f"could not write the index at {index_dir} ({exc}); the last commit is "
                                     "kept: run `rag index DIR` again once the cause is fixed") from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    _remove_unnamed_files(index_dir, written)


def _open_for_writing(index_dir: Path, moved_aside: bool = False) -> sqlite3.Connection:
    """A connection in a write transaction. A file that is not an SQLite database is moved aside
    (never deleted: it may be something the user wants) and a new index started, since `rag
    index` is the fix load_index names for a damaged index."""
    db = _connect(index_dir / DATABASE)
    try:
        db.execute("PRAGMA journal_mode = WAL")  # readers never wait for a writer
        _drop_other_versions(db)
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        return db
    except sqlite3.OperationalError as exc:
        db.close()
        if exc.sqlite_errorname == "SQLITE_BUSY":
            raise IndexUnusableError(f"cannot write the index at {index_dir} ({exc}): another `rag index` has been "
                                     "writing for a long time; try again when it has finished") from None
        raise IndexUnusableError(f"could not write the index at {index_dir} ({exc}); the last commit is "
                                 "kept: run `rag index DIR` again once the cause is fixed") from None
    except sqlite3.DatabaseError as exc:
        db.close()
        if moved_aside:
            raise _damaged(index_dir, exc) from None
        aside = f"{DATABASE}.damaged-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
        for suffix in ("", "-wal", "-shm"):
            if (index_dir / f"{DATABASE}{suffix}").exists():
                os.replace(index_dir / f"{DATABASE}{suffix}", index_dir / f"{aside}{suffix}")
        log.warning("%s is not an SQLite database (%s): moved aside as %s, building a new index",
                    index_dir / DATABASE, exc, aside)
        return _open_for_writing(index_dir, moved_aside=True)


def _drop_other_versions(db: sqlite3.Connection) -> None:
    """Drop the tables of an index written by another version of the format: their columns may
    differ, and `rag index` is the rebuild that readers name."""
    db.execute("BEGIN IMMEDIATE")
    try:
        tables = {name for name, in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        stored = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() if "meta" in tables else None
        if stored is not None and json.loads(stored[0]) not in (VERSION, VERSION_4):
            # chunks_terms: the fts5vocab table an index had until keyword_search counted with FTS5
            for table in ("vectors_added", "vectors_removed", "chunks_terms", "chunks_fts", "words", "chunks",
                          "articles", "meta"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _remove_unnamed_files(index_dir: Path, written: str | None) -> None:
    """Delete vector files older than the previous commit's (a reader may still be opening that
    one) and the files of a version 1 index."""
    if written is None:
        return
    older = sorted(p.name for p in index_dir.glob("vectors-??????.faiss") if p.name < written)
    for name in older[:-1]:
        (index_dir / name).unlink(missing_ok=True)
    for path in [index_dir / VERSION_1_MANIFEST, index_dir / ".write.lock", *index_dir.glob("chunks-*.jsonl"),
                 *index_dir.glob("vectors-*-*.faiss")]:
        path.unlink(missing_ok=True)
