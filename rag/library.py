"""The document library: the articles an index was built from, and adding or removing one.

An index records the folder its articles were read from (`source_dir`); that folder is the
library. Adding copies a checked file into it under a safe name, removing deletes one, and both
then sync the index with the folder (rag.sync): only the file that changed is read and embedded.

Concurrency: library writers take a module-level lock, so two uploads never sync at once (the
second waits for the first and then sees its file). Every write to the index, this process's or
a shell `rag index`'s, is an SQLite transaction (rag.index.writing), so writers in different
processes take turns too. Readers need no lock: load_index reads a committed state, cached per
commit, so a question being answered keeps the index it loaded and the next one sees the new one.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.config import Settings, load_settings
from rag.errors import BadInputError
from rag.index import file_names, find_records, read_catalog, read_meta, read_record, sources_of_texts
from rag.loading import ARCHIVE_SUFFIXES, SUPPORTED_SUFFIXES, byte_limit, load_file
from rag.pipeline import build_index
from rag.schema import Article, ArticleRecord, IndexInfo
from rag.scope import Scope, as_scope
from rag.sync import watch

__all__ = ["list_articles", "find_articles", "how_many", "articles_folder", "safe_name", "add_articles",
           "remove_article", "reindex", "watching", "read_article"]

_WRITE_LOCK = threading.Lock()
# Long enough for any headline, short enough for every file system's 255-byte name limit: 100
# characters, and at most 245 bytes in UTF-8 with the suffix (a CJK character is 3 bytes: 120 of
# them made a 364-byte name the file system refused; found by fuzzing).
_MAX_STEM_CHARS = 100
_MAX_NAME_BYTES = 245
# Articles a page of the library lists at most, the rest found by searching. Over 150,000 articles
# the whole table was 17.5 MB sent with every page load of the web app, read (2.7 s) twice for it
# (eval/HISTORY.md, session 23); a page of 200 takes 10 ms there, a search 0.3-0.6 s.
PAGE = 200


def list_articles(index_dir: str | Path | None = None, *, settings: Settings | None = None) -> list[ArticleRecord]:
    """The articles in the index at index_dir (default: the settings' index), by name."""
    return read_catalog(_index_dir(index_dir, settings))[1]


def find_articles(text: str = "", limit: int = PAGE, index_dir: str | Path | None = None, *,
                  settings: Settings | None = None, scope: Scope | dict | None = None
                  ) -> tuple[list[ArticleRecord], int]:
    """The first `limit` articles (by name) that hold every word of `text`, each in the title,
    name, outlet, dates or a passage, whatever the case, and how many do: what a page of a large
    library shows (rag.index.find_records). With a `scope` (rag.Scope), only its articles: those
    a question kept to it is asked of."""
    return find_records(_index_dir(index_dir, settings), text, limit, as_scope(scope))


def how_many(total: int, text: str = "") -> str:
    """How many articles a search for `text` found, as the web app and `rag articles` say it:
    "1 article matches “cod”", "2,224 articles" (`text` as it is to be shown)."""
    if text:
        return f"{total:,} {'article matches' if total == 1 else 'articles match'} “{text}”"
    return f"{total:,} {'article' if total == 1 else 'articles'}"


def articles_folder(index_dir: str | Path | None = None, *, settings: Settings | None = None) -> Path:
    """The folder the index was built from, where added articles go."""
    index_dir = _index_dir(index_dir, settings)
    folder = read_meta(index_dir).get("source_dir")
    if not folder:
        raise BadInputError(
            f"the index at {index_dir} does not record the folder its articles came from: "
            "run `rag index DIR` once with that folder"
        )
    if not Path(folder).is_dir():
        raise BadInputError(
            f"the folder the index at {index_dir} was built from, {folder}, is gone: rebuild the index with "
            "`rag index DIR` from where the articles are now"
        )
    return Path(folder)


def safe_name(name: str) -> str:
    """A file name that is safe to create in the library folder, keeping what is readable.

    Drops any directory part, keeps letters, digits, "-", "_" and "." (Unicode letters too), turns
    every other run of characters into "_", never starts with a dot (hidden files are not
    indexed) and refuses a type the loader cannot read.
    """
    base = unicodedata.normalize("NFKC", re.split(r"[\\/]", name)[-1]).strip()
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadInputError(
            f"{base or name!r}: unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}"
        )
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._-")[:_MAX_STEM_CHARS]
    room = _MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip("._-")
    return f"{stem or 'article'}{suffix}"


def add_articles(paths: list[str | Path], index_dir: str | Path | None = None, *, names: list[str] | None = None,
                 settings: Settings | None = None, progress: bool = False) -> IndexInfo:
    """Check the files, copy them into the library under safe names and sync the index.

    All or nothing: if any file is unusable (type, size, not text, no article text), a
    name is taken, or a text is already indexed, BadInputError names it and nothing changes.
    `names` are the files' original names when `paths` are temporary copies (an upload).
    """
    settings = settings or load_settings()
    index_dir = _index_dir(index_dir, settings)
    paths = [Path(p) for p in paths]
    names = names or [p.name for p in paths]
    if not paths:
        raise BadInputError("no file given: choose one or more articles, dumps or feeds "
                            f"({', '.join(SUPPORTED_SUFFIXES)})")
    if len(names) != len(paths):  # zip() dropped the files without a name
        raise BadInputError(f"{len(paths)} files but {len(names)} names: give one name a file")
    with _WRITE_LOCK:
        folder = articles_folder(index_dir)
        with tempfile.TemporaryDirectory(prefix="rag-upload-") as staging:
            staged = [_checked_copy(path, name, Path(staging), settings)
                      for path, name in zip(paths, names)]
            indexed = sources_of_texts(index_dir, [text for _, text in staged if text is not None])
            problems = _conflicts(staged, folder, indexed)
            if problems:
                raise BadInputError("; ".join(problems))
            added = []
            try:
                for path, _ in staged:
                    added.append(_publish(path, folder / path.name))
                return build_index(folder, index_dir, settings=settings, progress=progress)
            except BaseException:
                for target in added:
                    target.unlink(missing_ok=True)
                raise


def remove_article(source: str, index_dir: str | Path | None = None, *, settings: Settings | None = None,
                   progress: bool = False) -> IndexInfo:
    """Delete an indexed file from the library and sync: an article's file, or a dump or feed
    named by its file name (all its articles go). A row of a dump is not cut out of the user's
    file: BadInputError says to remove or edit the file."""
    settings = settings or load_settings()
    index_dir = _index_dir(index_dir, settings)
    with _WRITE_LOCK:
        folder = articles_folder(index_dir)
        entry = read_record(index_dir, source)
        if entry is not None and entry.file != source:
            raise BadInputError(f"{source} is {entry.origin} of {entry.file}: remove {entry.file} (all its "
                                "articles), or edit that file and re-index")
        files = file_names(index_dir)  # names only: the records of 150,000 articles take 2.7 s to read
        if source not in files:
            raise _not_listed(source, files)
        if len(files) == 1:
            raise BadInputError(f"{source} is the only file: an index needs at least one, so add another first")
        path = folder / source
        # Set aside rather than deleted, so a failed build can put it back and change nothing.
        aside = folder / _beside(source, "removing")
        present = path.exists()
        if present:
            os.replace(path, aside)
        try:
            info = build_index(folder, index_dir, settings=settings, progress=progress)
        except BaseException:
            if present:
                os.replace(aside, path)
            raise
        aside.unlink(missing_ok=True)
        return info


def reindex(index_dir: str | Path | None = None, *, settings: Settings | None = None,
            progress: bool = False) -> IndexInfo:
    """Sync the index with its folder, picking up files added, changed or deleted by hand."""
    settings = settings or load_settings()
    index_dir = _index_dir(index_dir, settings)
    with _WRITE_LOCK:
        return build_index(articles_folder(index_dir), index_dir, settings=settings, progress=progress)


@contextmanager
def watching(every: float | None, report: Callable[[IndexInfo | Exception], None], *,
             settings: Settings | None = None) -> Iterator[None]:
    """While inside, keep the index in sync with its library folder, looking every `every` seconds
    (rag.sync.watch on a thread of its own, its syncs taking turns with uploads as `reindex`'s
    do); nothing when `every` is None. What `rag ui --watch` and `rag serve --watch` run beside
    the app. A RagError at once when there is no index, it records no folder, or its folder is
    gone (articles_folder)."""
    if every is None:
        yield
        return
    settings = settings or load_settings()
    folder, stop = articles_folder(settings=settings), threading.Event()
    watcher = threading.Thread(target=watch, args=(folder, lambda: reindex(settings=settings)),
                               kwargs={"every": every, "report": report, "stop": stop}, daemon=True,
                               name="library watch")
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        # A sync under way is not waited for past a few seconds: a thread cut at exit leaves the
        # last commit usable, as kill -9 of a sync does (tests/test_index.py).
        watcher.join(5)


def read_article(source: str, index_dir: str | Path | None = None, *, settings: Settings | None = None) -> Article:
    """An indexed article read from the library folder, as it was when indexed (a row of a dump
    or an entry of a feed is read from its file).

    Only names the index lists are read, so a caller passing on a name from a browser never
    opens another path; a file changed since indexing is refused, as its offsets no longer hold.
    """
    settings = settings or load_settings()
    index_dir = _index_dir(index_dir, settings)
    record = read_record(index_dir, source)  # one row, not the whole catalog (2.7 s over 150,000 articles)
    if record is None:
        raise _not_listed(source, file_names(index_dir, articles=True))
    found, _ = load_file(articles_folder(index_dir) / record.file, settings.max_file_bytes, settings.max_archive_bytes,
                         record.file)
    article = next((a for a in found if a.source == source), None)
    if article is None or article.content_hash != record.content_hash:
        raise BadInputError(f"{source} has changed since it was indexed: re-index to see it with its citations")
    return article


def _index_dir(index_dir: str | Path | None, settings: Settings | None) -> Path:
    return Path(index_dir) if index_dir is not None else (settings or load_settings()).index_dir


def _beside(name: str, purpose: str) -> str:
    """A hidden name for a file on its way in or out of the library (hidden: no build reads it).
    Made from a hash, not from the name: a name near the 255-byte limit plus ".removing" went
    over it, and such a file could never be removed."""
    return f".{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}.{purpose}"


def _publish(staged: Path, target: Path) -> Path:
    """Copy a checked file into the library as `target`, never over a file of that name.

    Copied beside it, then linked in whole: a build running from a shell never reads half a file
    (the dot keeps the partial copy out of any build). Linked, not renamed: a rename replaced a
    file saved under the name after _conflicts found it free (by another process, or by hand).
    """
    partial = target.with_name(_beside(target.name, "partial"))
    # Its name is predictable: whatever is there (a crash's leftover, or a link planted to make
    # the copy write elsewhere) goes, and "x" creates the file or fails, never following a link.
    partial.unlink(missing_ok=True)
    with open(staged, "rb") as source, open(partial, "xb") as copy:
        shutil.copyfileobj(source, copy)
    try:
        os.link(partial, target)
    except FileExistsError:
        raise BadInputError(_taken(target.name)) from None
    except OSError:  # a file system without hard links (FAT, some network shares): claim the name, then fill it
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise BadInputError(_taken(target.name)) from None
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _taken(name: str) -> str:
    return f"{name} is already in the library: remove it first to replace it"


# Names an error about a name not in the library lists: all of a small library's, else the closest.
NAMES_LISTED = 20


def _not_listed(source: str, listed: list[str]) -> BadInputError:
    """The error for a name the library does not hold (`listed`: the names it does)."""
    if len(listed) <= NAMES_LISTED:
        return BadInputError(f"{source!r} is not in the library; it holds: {', '.join(listed) or 'nothing'}")
    # A large library's names would make a message of megabytes (150,000 of them).
    close = _closest(source, listed)
    return BadInputError(f"{source!r} is not in the library of {len(listed):,} files" +
                         (f"; the closest names: {', '.join(close)}" if close else ""))


# Names compared with a mistyped one, at most, on each side of where it would sort.
NEIGHBOURS = 200


def _closest(name: str, names: list[str]) -> list[str]:
    """The 3 names most like `name` (difflib's), among those that sort next to it forwards and
    spelt backwards: a slip leaves the start or the end of a name as it was. difflib over all
    150,000 names of a library took 2.6 s; over these 800 at most, a few milliseconds."""
    near: set[str] = set()
    for key in (lambda text: text, lambda text: text[::-1]):
        ordered = sorted(names, key=key)
        at = bisect.bisect(ordered, key(name), key=key)
        near.update(ordered[max(0, at - NEIGHBOURS):at + NEIGHBOURS])
    return difflib.get_close_matches(name, sorted(near), n=3)


def _checked_copy(path: Path, name: str, staging: Path, settings: Settings) -> tuple[Path, str | None]:
    """Copy one file into `staging` under its safe name and load it; (copy, content hash of the
    article it is, None for a file of many: a dump, a feed, an export)."""
    target = staging / safe_name(name)
    if target.exists():
        raise BadInputError(f"two of the files would both be saved as {target.name}: rename one")
    if path.is_symlink():  # its target could be any file on the machine
        raise BadInputError(f"{name}: a symbolic link: give the article file itself")
    if path.exists() and not path.is_file():  # a folder or a pipe: copying raised IsADirectoryError
        raise BadInputError(f"{name}: not a file (a folder or a special file): give the article file itself")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadInputError(f"{name}: cannot read it: {exc.strerror}") from None
    # Checked before copying, so an oversized upload is not copied again just to be refused.
    limit, setting = byte_limit(target, settings.max_file_bytes, settings.max_archive_bytes)
    if size > limit:
        raise BadInputError(f"{target.name}: {size:,} bytes, over the {limit:,}-byte limit (setting {setting})")
    shutil.copyfile(path, target)
    articles, _ = load_file(target, settings.max_file_bytes, settings.max_archive_bytes)
    # A file of many articles (a dump, a feed, a news database's export) is not compared by text:
    # feeds saved on different days share entries, two searches' exports share stories.
    return target, None if target.suffix in ARCHIVE_SUFFIXES or len(articles) > 1 else articles[0].content_hash


def _conflicts(staged: list[tuple[Path, str | None]], folder: Path, indexed: dict[str, str]) -> list[str]:
    problems, seen = [], {}
    for path, content_hash in staged:
        if os.path.lexists(folder / path.name):  # a dangling link too: replacing it would lose it
            problems.append(_taken(path.name))
        elif content_hash is None:
            continue
        elif content_hash in indexed:
            problems.append(f"{path.name} has the same text as {indexed[content_hash]}, which is already indexed")
        elif content_hash in seen:
            problems.append(f"{path.name} has the same text as {seen[content_hash]}")
        seen.setdefault(content_hash, path.name)
    return problems
