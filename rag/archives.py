"""Files that hold many articles: dumps (CSV, JSON Lines), feeds (RSS, Atom), notebooks
(Evernote exports), mailboxes (mbox) and books (EPUB: calibre's news issues).

Archives and datasets ship as dumps, one article per row, and news sites publish feeds, one per
entry. Each row or entry becomes an `Article` of its own, cited as "file#key":
- a dump's row by its number ("archive.csv#12": the 12th row under the header, the 12th line of
  a JSONL file), which stays put when rows are appended;
- a feed's entry by a short hash of its id (or link, or title), which stays put as the feed rolls
  on and new entries push old ones down;
- a note, a message or a book's document by a short hash of what names it (its title and time,
  its Message-ID, its path in the book), for the same reason.
The columns (or JSON keys) title, text, date, url, outlet and author are recognised by name, with
the usual alternatives (rag.loading.FIELDS); the others are ignored. A row or entry with no text is skipped with
the reason, and the rest are kept; a dump with no text column, or a file that is not a feed, is
refused whole.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
from pathlib import Path

from rag.errors import BadInputError
from rag.loading import (
    BOOK_SUFFIXES,
    FEED_SUFFIXES,
    FIELDS,
    MAILBOX_SUFFIXES,
    NOTES_SUFFIXES,
    bad_file,
    decode_text,
    entry_article,
    field_role,
    file_type,
    iso_date,
    holds_markup,
    html_text,
    read_bytes,
    require_within,
)
from rag.mail import letter_article, mbox_messages, read_message
from rag.schema import Article

def load_archive(path: Path, max_bytes: int, max_archive_bytes: int,
                 name: str | None = None) -> tuple[list[Article], list[str]]:
    """The articles of a dump or feed, and the rows or entries skipped, each as "file, row 7:
    reason". BadInputError when the file is unusable as a whole (over max_archive_bytes) or none
    of its rows is; a row's text over max_bytes is skipped. `name`: its path within its library
    folder, none of whose folders is followed if it is a link (rag.loading.opened)."""
    data = read_bytes(path, max_archive_bytes, "max_archive_bytes", name)
    kind = file_type(path)
    if kind in FEED_SUFFIXES:
        articles, skipped = _feed(path, data)
    elif kind in NOTES_SUFFIXES:
        articles, skipped = _notes(path, data, max_bytes)
    elif kind in MAILBOX_SUFFIXES:
        articles, skipped = _mailbox(path, data, max_bytes)
    elif kind in BOOK_SUFFIXES:
        articles, skipped = _book(path, data, max_bytes)
    else:
        articles, skipped = _dump(path, data, max_bytes)
    if not articles:
        raise bad_file(path, "no usable article in it" + (f" ({'; '.join(skipped[:3])})" if skipped else ""))
    return articles, skipped


# --- dumps ---


def _dump(path: Path, data: bytes, max_bytes: int) -> tuple[list[Article], list[str]]:
    # A stray NUL byte (a damaged row of a scraped dump) costs its row, not the whole dump.
    text = decode_text(path, data, stray_nuls=True)
    kind = file_type(path)
    if kind == ".csv":
        rows, skipped = _csv_rows(path, text)
        where = "row"
    elif kind == ".json":
        rows, skipped, where = _json_rows(path, text)
    else:
        rows, skipped = _jsonl_rows(path, text)
        where = "line"
    if where is None:  # a .json file that is one article: named by its file, as an e-mail is
        return [_row_article(path, None, None, path.name, rows[0][1], max_bytes)], skipped
    articles = []
    for number, row in rows:
        try:
            articles.append(_row_article(path, f"{path.name}#{number}", f"{where} {number}",
                                         f"{path.name}, {where} {number}", row, max_bytes))
        except BadInputError as exc:
            skipped.append(str(exc))
    return articles, skipped


def _csv_rows(path: Path, text: str) -> tuple[list[tuple[int, dict]], list[str]]:
    # An article is one field. No field can be longer than the file, and a row whose text is over
    # max_file_bytes is skipped by _row_article: a lower limit (Python's default is 128 KiB)
    # refused the whole dump for one long row.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=_dialect(text))
    try:
        header = reader.fieldnames or []
        _require_text_column(path, header)
        # A column named twice keeps only its last value in each row: the other is lost unseen.
        if twice := sorted({str(name) for name in header if header.count(name) > 1}):
            raise bad_file(path, f"the header names {', '.join(map(repr, twice))} twice: rename one, or its "
                                 "values would be lost")
        return [(number, row) for number, row in enumerate(reader, start=1)], []
    except csv.Error as exc:
        raise bad_file(path, f"not a readable CSV file ({exc})") from None


def _dialect(text: str) -> type[csv.Dialect]:
    """Excel's CSV dialect with the delimiter the file uses (",", ";", tab or "|"). Only the
    delimiter is sniffed: csv.Sniffer also guesses the quoting, and on a file written by Excel or
    csv.writer with a quoted "\r" it guessed quotes were not doubled, which cut the text at the
    first quote and lost the rest of the row (found by fuzzing).
    The header says it first: the delimiter it uses most. Sniffed from the rows too, texts holding
    '"|' made "|" the delimiter of a "title,text" dump, refused whole for want of a text column
    (found by fuzzing); only a header of one column leaves it to the sniffer."""
    header = re.sub(r'"[^"]*"', "", text.split("\n", 1)[0])  # its names outside their quotes
    counts = {delimiter: header.count(delimiter) for delimiter in ",;\t|"}
    delimiter = max(counts, key=counts.get)  # a tie goes to the first: ","
    if counts[delimiter] == 0:
        try:
            delimiter = csv.Sniffer().sniff(text[:10_000], delimiters=",;\t|").delimiter
        except csv.Error:
            return csv.excel

    class Sniffed(csv.excel):
        pass

    Sniffed.delimiter = delimiter
    return Sniffed


def _jsonl_rows(path: Path, text: str) -> tuple[list[tuple[int, dict]], list[str]]:
    rows, skipped, keys = [], [], set()
    # Lines end at "\n" only: str.splitlines also splits at U+2028, U+0085 and other characters
    # that JSON allows inside a string, which lost the row and renumbered the ones after it.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:  # over 4,300 digits, or nested thousands deep
            skipped.append(f"{path.name}, line {number}: not JSON ({type(exc).__name__}: {exc})")
            continue
        if not isinstance(row, dict):
            skipped.append(f"{path.name}, line {number}: not a JSON object")
            continue
        rows.append((number, fields := _fields_of(row)))
        keys.update(fields)  # a text inside a role-less object counts, as in a .json list
    if rows:
        _require_text_column(path, keys)
    return rows, skipped


def _json_rows(path: Path, text: str) -> tuple[list[tuple[int, dict]], list[str], str | None]:
    """The articles of a .json file, and what its numbers count ("item", "line"; None for a file
    that is one article). A .json file is one article (news-please crawls one file per story), a
    list of them (Wallabag's export), an object holding one list of them (a NewsAPI response's
    "articles", a dataset's "data"; the Guardian's API holds it in "response"), or JSON Lines
    saved as .json (many a Hugging Face or Kaggle news dataset)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # a second value after the first: one per line
            return (*_jsonl_rows(path, text), "line")
        raise bad_file(path, f"not readable JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # over 4,300 digits, or nested thousands deep
        raise bad_file(path, f"not readable JSON ({type(exc).__name__}: {exc})") from None
    # Down to the articles: through an object holding one list of objects (NewsAPI's "articles"),
    # or, holding none, one object (the Guardian's {"response": {..., "results": [...]}}).
    for _ in range(_DEPTH):
        if not isinstance(value, dict) or _is_article(value):
            break
        lists = [name for name, held in value.items() if _holds_objects(held)]
        inner = [name for name, held in value.items() if isinstance(held, dict)]
        if len(lists) != 1 and (lists or len(inner) != 1):
            raise bad_file(path, f"neither an article (no text field: {_TEXT_FIELD}) nor a list of articles"
                                 + (f" (it holds {len(lists)} lists: {', '.join(map(repr, lists))})" if lists else ""))
        value = value[lists[0]] if lists else value[inner[0]]
    if isinstance(value, dict):
        if not _is_article(value):
            raise bad_file(path, "neither an article nor a list of articles within a few objects")
        return [(1, _fields_of(value))], [], None
    if not _holds_objects(value):
        raise bad_file(path, "neither an article (a JSON object) nor a list of articles")
    rows, skipped = [], []
    for number, row in enumerate(value, start=1):
        if isinstance(row, dict):
            rows.append((number, _fields_of(row)))
        else:
            skipped.append(f"{path.name}, item {number}: not a JSON object")
    _require_text_column(path, {name for _, row in rows for name in row})
    return rows, skipped, "item"


# How many objects deep a .json file's articles are looked for: the Guardian's are two.
_DEPTH = 3


def _holds_objects(value) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _is_article(row: dict) -> bool:
    return any(field_role(name) == "text" for name in _fields_of(row))


def _fields_of(row: dict) -> dict:
    """A row's fields, then those of an object in it that plays no part itself (the Guardian's
    "fields": {"bodyText", "byline"}, webz.io's "thread": {"site"}), which the row's own
    fields of the same name come before."""
    fields = dict(row)
    for name, value in row.items():
        if isinstance(value, dict) and field_role(name) is None:
            for inner, held in value.items():
                fields.setdefault(inner, held)
    return fields


# What a dump's text is found under, as its refusals say it.
_TEXT_FIELD = f"one named {', '.join(FIELDS['text'])}"


def _require_text_column(path: Path, names) -> None:
    if not any(field_role(name) == "text" for name in names):
        raise bad_file(path, f"no text column: {_TEXT_FIELD} is needed "
                             f"(it has {', '.join(map(str, names)) or 'none'})")


def _row_article(path: Path, source: str | None, origin: str | None, where: str, row: dict,
                 max_bytes: int) -> Article:
    """The Article of a dump's row (a CSV row, or a JSON object with the fields of an object in it
    that plays no part: _fields_of). A field may hold a list (news-please's "authors", a text as
    its paragraphs) or an object with a name (NewsAPI's "source": {"name": "BBC News"}); a text
    that is HTML (Wallabag's "content") is read as a reader sees it."""
    fields: dict[str, str] = {}
    for name, value in row.items():
        role = field_role(name, value)
        if role and role not in fields and (value := _field_value(value, "\n" if role == "text" else ", ")):
            fields[role] = value
    if any("\0" in value for value in fields.values()):
        raise BadInputError(f"{where}: it holds a NUL byte (damaged data?)")
    if "text" not in fields:
        raise BadInputError(f"{where}: no text")
    require_within(fields["text"], max_bytes, where)
    body, unseen = html_text(fields["text"]) if holds_markup(fields["text"]) else (fields["text"], "")
    return entry_article(path, source, origin, body, where, unseen=unseen, title=fields.get("title"),
                         published=iso_date(fields.get("date")), url=fields.get("url"),
                         outlet=fields.get("outlet"), author=fields.get("author"))


def _field_value(value, joiner: str) -> str:
    """A field's value as text: a list's values joined (a list inside it is no value: JSON nests
    thousands deep), an object's name; "" for none."""
    if isinstance(value, list):
        return joiner.join(part for part in map(_scalar, value) if part)
    return _scalar(value)


def _scalar(value) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    return str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


# --- feeds ---


def _feed(path: Path, data: bytes) -> tuple[list[Article], list[str]]:
    import feedparser

    feed = feedparser.parse(data)
    if not feed.entries:
        reason = feed.get("bozo_exception") or "it has no entries"
        raise bad_file(path, f"not a readable RSS or Atom feed ({reason})")
    outlet = " ".join(feed.feed.get("title", "").split()) or None
    articles, skipped, taken = [], [], set()
    for number, entry in enumerate(feed.entries, start=1):
        origin = f"entry {number}"
        where = f"{path.name}, {origin}"
        body = entry.get("content", [{}])[0].get("value") or entry.get("summary") or ""
        key = _entry_key(entry, body, taken)
        if key is None:
            skipped.append(f"{where}: the same entry as an earlier one (id or link, title and text): left out")
            continue
        # dict.get: feedparser's own get maps a missing key to another one, with a warning.
        parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        visible, unseen = html_text(body)
        try:
            articles.append(entry_article(
                path, f"{path.name}#{key}", origin, visible, where, unseen=unseen,
                title=" ".join(entry.get("title", "").split()) or None, url=entry.get("link"), outlet=outlet,
                author=entry.get("author_detail", {}).get("name") or entry.get("author"),
                published=_feed_date(parsed)))
        except BadInputError as exc:
            skipped.append(str(exc))
    if feed.bozo and not articles:  # a feed cut off or broken: say so, not "no text"
        raise bad_file(path, f"not a readable RSS or Atom feed ({feed.bozo_exception})")
    return articles, skipped


def _entry_key(entry, body: str, taken: set[str]) -> str | None:
    """The entry's name in its feed: its id, link or title, hashed, so that it keeps its name as
    newer entries arrive on top. Entries that share one (a live blog's updates all link to one
    page) are told apart by their title and text: one name for all made each replace the one
    before in the index. None for an entry that repeats an earlier one whole."""
    identity = entry.get("id") or entry.get("link") or entry.get("title") or body
    name, whole = (hashlib.sha256(basis.encode("utf-8")).hexdigest()[:10]
                   for basis in (identity, f"{identity}\0{entry.get('title', '')}\0{body}"))
    if whole in taken:
        return None
    key = whole if name in taken else name
    taken.update((name, whole))
    return key


def _feed_date(parsed: time.struct_time | None) -> str | None:
    """An entry's date as YYYY-MM-DD, or None when it is none: feeds write "0000-00-00" for no
    date, which feedparser reads as the 30th of November of year -1 (found by fuzzing)."""
    if not parsed or not 1900 <= parsed.tm_year <= 9999:
        return None
    return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}"


# --- notes ---


def _notes(path: Path, data: bytes, max_bytes: int) -> tuple[list[Article], list[str]]:
    """An Evernote export (.enex): a notebook's notes, the web clips among them articles with the
    address they were clipped from. A note's "created" is when it was clipped, not when the
    article was published, and is left out, as a clipping's front matter's is (rag.loading).
    Read note by note (a notebook of clips with their pictures runs to hundreds of megabytes),
    its XML without entities or a DTD (lxml's defaults would expand what a file declares)."""
    from lxml import etree

    notes = etree.iterparse(io.BytesIO(data), events=("end",), tag="note", resolve_entities=False,
                            no_network=True, load_dtd=False, huge_tree=True)
    articles, skipped, taken, number = [], [], set(), 0
    try:
        for number, note in enumerate((note for _, note in notes), start=1):
            origin = f"note {number}"
            where = f"{path.name}, {origin}"
            title = " ".join((note.findtext("title") or "").split()) or None
            content = note.findtext("content") or ""
            key = _entry_key({"id": f"{note.findtext('created')}\0{title}"}, content, taken)
            try:
                if key is None:
                    raise BadInputError(f"{where}: the same note as an earlier one (title, time and text): left out")
                require_within(content, max_bytes, where)
                # ENML: XHTML under its own XML declaration and DOCTYPE, which an HTML fragment cannot hold.
                visible, unseen = html_text(re.sub(r"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^>]*>)?", "", content))
                articles.append(entry_article(
                    path, f"{path.name}#{key}", origin, visible, where, unseen=unseen, title=title,
                    url=note.findtext("note-attributes/source-url"), author=note.findtext("note-attributes/author"),
                    published=None))
            except BadInputError as exc:
                skipped.append(str(exc))
            note.clear()  # its pictures, and the notes before it: read once, not kept
            while note.getprevious() is not None:
                del note.getparent()[0]
    except etree.XMLSyntaxError as exc:
        why = " ".join(str(exc).split())
        if not articles:
            raise bad_file(path, f"not a readable Evernote export ({why})") from None
        skipped.append(f"{path.name}, after note {number}: the rest is not readable XML ({why})")
    if not number:
        raise bad_file(path, "not an Evernote export (no note in it)")
    return articles, skipped


# --- mailboxes ---


def _mailbox(path: Path, data: bytes, max_bytes: int) -> tuple[list[Article], list[str]]:
    """An mbox mailbox (a mail program's exported folder of newsletters): one article per message
    (rag.mail), named by a short hash of its Message-ID, so that it keeps its name as the folder
    is exported again with newer messages."""
    messages = mbox_messages(data)
    if messages is None:
        raise bad_file(path, 'not an mbox mailbox (it does not start with a "From " line)')
    articles, skipped, taken = [], [], set()
    for number, raw in enumerate(messages, start=1):
        origin = f"message {number}"
        where = f"{path.name}, {origin}"
        try:
            letter = read_message(path, raw, where)
            key = _entry_key({"id": letter.message_id, "title": letter.title}, letter.body, taken)
            if key is None:
                raise BadInputError(f"{where}: the same message as an earlier one (Message-ID, subject and text): "
                                    "left out")
            articles.append(letter_article(path, letter, where, max_bytes, f"{path.name}#{key}", origin))
        except BadInputError as exc:
            skipped.append(str(exc))
    return articles, skipped


# --- books ---


def _book(path: Path, data: bytes, max_bytes: int) -> tuple[list[Article], list[str]]:
    """An EPUB (rag.epub): one article per document of its reading order, named by a short hash of
    its path in the book."""
    from rag.epub import read_book

    book = read_book(path, data, max_bytes)
    articles, skipped, taken = [], list(book.skipped), set()
    for document in book.documents:
        origin = f"document {document.number}"
        where = f"{path.name}, {origin}"
        visible, unseen = html_text(document.html)
        try:
            key = _entry_key({"id": document.name}, visible, taken)
            if key is None:
                raise BadInputError(f"{where}: the same document as an earlier one (its place in the book and "
                                    "text): left out")
            articles.append(entry_article(path, f"{path.name}#{key}", origin, visible, where, unseen=unseen,
                                          title=document.title, published=book.published, url=document.url,
                                          outlet=book.outlet, author=book.author))
        except BadInputError as exc:
            skipped.append(str(exc))
    return articles, skipped
