"""Read article files into `Article`s: the decoded text, the spans of the article's own words
(page furniture left out) and a little metadata (title, outlet, dates).

.txt and .md files are read line by line; .html/.htm pages are reduced to their visible text
blocks with the standard library's parser, and their spans point into the raw HTML.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
from bisect import bisect_left, bisect_right
from collections import Counter
from datetime import date
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from rag.errors import BadInputError
from rag.schema import Article
from rag.text import MONTH_NAME, is_html, month_number, sentences

__all__ = ["SUPPORTED_SUFFIXES", "load_article", "load_folder", "span_text"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm")

log = logging.getLogger(__name__)

# --- page furniture: lines that are on the page but are not the article ---

# Photo agencies: "/ Reuters" after a caption credits the picture, it does not name the outlet.
_AGENCY = r"(?:Reuters|AP|AFP|EPA(?:-EFE)?|Getty Images|AA|Anadolu(?: Agency)?|Xinhua|dpa|TASS|Shutterstock)"
_FURNITURE = [
    # "9 hours ago", "Updated 3 hours ago"
    re.compile(r"^(?:(?:last )?updated|published|posted)?\s*:?\s*(?:\d+|an?|one)\s+"
               r"(?:sec(?:ond)?|min(?:ute)?|h(?:ou)?r|day|week|month|year)s?\s+ago\.?$", re.I),
    # Caption credits: "... (Reuters). / Reuters", "(AP Photo/Evan Vucci)", "(Photo: AA)". The
    # agency must follow a "/", "(" or "Photo:" so that "..., he told Reuters." stays.
    re.compile(rf"(?:[/(|]|\bPhoto:)\s*{_AGENCY}(?:\s*Photo)?(?:\s*/\s*[^()/]{{1,40}})?\)?\.?$"),
    re.compile(r"\b(?:Getty Images|AP Photo(?:/[^()]{1,40})?)\)?\.?$"),
    re.compile(r"^(?:photo|image|picture|file photo|photograph)s?(?: credit)?\s*[:/]", re.I),
    # Calls to action of the website.
    re.compile(r"share your feedback|^sneak a peek at |^contact us\.?$|^advertisement$", re.I),
    # Pointers to other articles.
    re.compile(r"^(?:read more|read also|also read|see also)\b|^(?:related|more on this)[^:]{0,30}:", re.I),
]
# "SOURCE:TRT World" trailer: furniture, and the one place a plain text file names its outlet.
_SOURCE = re.compile(r"^sources?\s*:\s*([^.]{1,60})$", re.I)
# "TRT Global - How Türkiye became ...": an outlet (up to four capitalised words), a dash, a
# headline. Followed by a teaser and a lone link symbol it is a promo for another article.
_PROMO_HEADER = re.compile(r"^[A-Z][\w&'’.]*(?:\s[A-Z0-9][\w&'’.]*){0,3}\s[-–—|]\s\S.*[^.:]$")
# Section names that say nothing about the article: not a title on their own.
_GENERIC_HEADING = {"introduction", "context", "background", "history", "overview", "summary",
                    "analysis", "conclusion", "abstract", "contents", "&", "and", "the"}

_MONTH = rf"(?P<{{}}>{MONTH_NAME})\.?"
# Month names are matched capitalised only: "may" and "march" are also ordinary words.
_DATE = re.compile(
    rf"\b{_MONTH.format('m1')}\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y1>\d{{4}})\b)?"
    rf"|\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH.format('m2')},?\s+(?P<y2>\d{{4}})\b"
    rf"|\b{_MONTH.format('m3')},?\s+(?P<y3>\d{{4}})\b"
)


def load_article(path: Path, max_bytes: int = 5_000_000) -> Article:
    """Read one .txt/.md/.html file; BadInputError (naming the file) when it is not usable."""
    path = Path(path)
    text = _read(path, max_bytes)
    declared = outlet = None
    if is_html(path.name):
        page = _parse_html(text)
        # The <h1> is the article's headline; <title> often carries " | Outlet" too.
        units, declared, outlet = page.blocks, page.h1 or page.title, page.site_name
        dated_text = "\n".join([page.title or ""] + [t for _, _, t in units])
    else:
        units, dated_text = _lines(text), text
    kept, source = _drop_furniture(units)
    if not kept:
        raise _bad(path, "no article text (only page furniture such as credits or links)")
    return Article(
        source=path.name,
        path=str(path),
        text=text,
        spans=[(s, e) for s, e, _ in kept],
        title=declared or _title([t for _, _, t in kept]),
        outlet=outlet or source,
        dates=_dates(dated_text),
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def article_files(folder: Path) -> list[Path]:
    """The entries of `folder` that may be articles, by name: everything but hidden entries and
    real sub-folders (links and special files are listed so that load_article says why it skips
    them). BadInputError when the folder is missing or holds no file of a supported type."""
    folder = Path(folder)
    if not folder.exists():
        raise BadInputError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise BadInputError(f"{folder} is not a folder: give the folder that holds the articles")
    files = sorted(p for p in folder.iterdir()
                   if not p.name.startswith(".") and (p.is_symlink() or not p.is_dir()))
    if not any(p.suffix.lower() in SUPPORTED_SUFFIXES for p in files):
        raise BadInputError(f"no {'/'.join(SUPPORTED_SUFFIXES)} files in {folder}")
    return files


def load_folder(folder: Path, max_bytes: int = 5_000_000) -> tuple[list[Article], list[str]]:
    """Load the files directly in `folder`, by name; unusable ones are skipped as "name: reason"."""
    articles, skipped = [], []
    for path in article_files(folder):
        try:
            articles.append(load_article(path, max_bytes))
        except BadInputError as exc:
            log.warning("skipping %s", exc)
            skipped.append(str(exc))
    if not articles:
        raise BadInputError(f"no usable article in {folder}: " + "; ".join(skipped))
    return articles, skipped


def span_text(article: Article, start: int, end: int) -> str:
    """The words of text[start:end]: the slice itself for plain text; for HTML the visible text
    of the blocks that lie inside the range, unescaped, one block per line."""
    if not is_html(article.source):
        return article.text[start:end]
    page = _parse_html(article.text)
    # Blocks do not overlap, so both their starts and their ends are sorted.
    inside = page.blocks[bisect_left(page.starts, start):bisect_right(page.ends, end)]
    return "\n".join(t for _, _, t in inside)


def _bad(path: Path, reason: str) -> BadInputError:
    return BadInputError(f"{path.name}: {reason}")


def _read(path: Path, max_bytes: int) -> str:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise _bad(path, f"unsupported file type {path.suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        # Only a regular file in the folder itself is read: a link could point anywhere on the
        # machine (/etc/passwd), and opening a pipe would block. O_NOFOLLOW refuses a link at
        # the moment of opening, so it cannot be swapped in after a check.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _bad(path, "a symbolic link: only files inside the library folder are read "
                             "(copy the article in instead)") from None
        raise _bad(path, f"cannot read it: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _bad(path, "not a regular file (a pipe, socket or device): not read")
        if info.st_size > max_bytes:
            raise _bad(path, f"{info.st_size:,} bytes, over the {max_bytes:,}-byte limit (setting max_file_bytes)")
        try:
            data = f.read()
        except OSError as exc:
            raise _bad(path, f"cannot read it: {exc.strerror}") from None
    if b"\0" in data:
        raise _bad(path, "not a text file (it contains NUL bytes; UTF-16 text must be saved as UTF-8)")
    try:
        # utf-8-sig reads plain UTF-8 unchanged and drops a leading byte-order mark, which would
        # otherwise end up in the title.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "save it as UTF-8") from None
    if not text.strip():
        raise _bad(path, "empty file")
    return text


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each non-blank line, surrounding whitespace left out of the span."""
    units = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group()
        stripped = line.strip()
        if stripped:
            start = m.start() + len(line) - len(line.lstrip())
            units.append((start, start + len(stripped), stripped))
    return units


def _drop_furniture(units: list[tuple[int, int, str]]) -> tuple[list[tuple[int, int, str]], str | None]:
    """The units that are the article's own words, and the outlet a "SOURCE:" trailer names."""
    texts = [t for _, _, t in units]
    promo = set()
    for i, t in enumerate(texts):
        if _is_symbol(t):
            for j in range(i - 1, max(i - 4, -1), -1):
                if _PROMO_HEADER.match(texts[j]):
                    promo.update(range(j, i))
                    break
    kept, seen, outlet = [], set(), None
    for i, unit in enumerate(units):
        t = unit[2]
        source = _SOURCE.match(t)
        if source and outlet is None:
            outlet = source.group(1).strip()
        # A line seen before is a repeated headline or a sticky banner, not new words.
        if not (i in promo or t in seen or source or _is_symbol(t) or any(p.search(t) for p in _FURNITURE)):
            kept.append(unit)
        seen.add(t)
    return kept, outlet


def _is_symbol(text: str) -> bool:
    """A lone link symbol, emoji or rule ("🔗", "***"): no letter or digit in it."""
    return not any(c.isalnum() for c in text)


def _title(texts: list[str]) -> str:
    first = _unmark(texts[0])
    if _is_headline(first):
        return first
    # "Introduction & Context" or a long first sentence: title the article by its first sentence.
    body = next((t for t in texts if t[-1] in ".!?…\"”’"), first)
    return _short_title(body)


def _unmark(text: str) -> str:
    """A markdown heading without its "#"s (a hashtag has no space after it and keeps its "#")."""
    return re.sub(r"^#{1,6}\s+", "", text)


def _is_headline(text: str) -> bool:
    words = set(text.lower().split())
    return (len(text) < 200 and text[-1] not in ".,;:" and text[0] not in "-*•"
            and not words <= _GENERIC_HEADING)


def _short_title(text: str) -> str:
    """The first sentence, cut to twelve words."""
    first = sentences(text)[0]
    words = first.split()
    if len(words) <= 12:
        return first.rstrip(".")
    return " ".join(words[:12]).rstrip(",;:–—-") + "…"


def _dates(text: str) -> list[str]:
    found, bare, years = set(), [], Counter()
    for m in _DATE.finditer(text):
        month = month_number(m["m1"] or m["m2"] or m["m3"])
        day, year = m["d1"] or m["d2"], m["y1"] or m["y2"] or m["y3"]
        if year is None:
            bare.append((month, int(day)))
            continue
        years[int(year)] += 1
        found.add(_iso(int(year), month, int(day) if day else None))
    # "On May 15, ..." takes the year of the article's dates (the most frequent, then the latest).
    # Bare years nearby ("since 2022") are too often about the past to lend theirs.
    if years:
        year = max(years, key=lambda y: (years[y], y))
        found.update(_iso(year, month, day) for month, day in bare)
    return sorted(found - {None})


def _iso(year: int, month: int, day: int | None) -> str | None:
    if day is None:
        return f"{year:04d}-{month:02d}"
    try:
        return date(year, month, day).isoformat()
    except ValueError:  # "Feb 30"
        return None


# --- HTML ---

_BLOCK_TAGS = {"address", "article", "blockquote", "body", "br", "dd", "div", "dl", "dt", "figure", "h1",
               "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "table",
               "td", "th", "tr", "ul"}
# Elements with no content, whose end tag never comes: never skipped "until it closes".
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _is_hidden(attrs: dict) -> bool:
    """Text a reader of the page never sees: a place to hide instructions for a model."""
    return ("hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true"
            or bool(_HIDDEN_STYLE.search(attrs.get("style") or "")))


_SKIP_TAGS = {"aside", "button", "figcaption", "footer", "form", "header", "iframe", "nav", "noscript",
              "script", "select", "style", "svg", "template"}


class _Page(HTMLParser):
    """Visible text blocks of a page with their (start, end) offsets in the raw HTML.

    A block is the text between two block-level tags, so blocks never nest or overlap and a
    block's raw range holds only inline markup.
    """

    def __init__(self, raw: str):
        super().__init__(convert_charrefs=True)
        self.raw = raw
        self.blocks: list[tuple[int, int, str]] = []
        self.title = self.h1 = self.site_name = None
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", raw)]
        self._skipping: list[str] = []  # open skipped elements, innermost last
        self._title: list[str] | None = None
        self._pieces: list[str] = []
        self._start: int | None = None
        self.feed(raw)
        self.close()
        self._flush(len(raw))
        self.starts = [s for s, _, _ in self.blocks]
        self.ends = [e for _, e, _ in self.blocks]

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _flush(self, end: int) -> str:
        text = " ".join("".join(self._pieces).split())
        if text:
            while self.raw[end - 1].isspace():
                end -= 1
            self.blocks.append((self._start, end, text))
        self._pieces, self._start = [], None
        return text

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in _BLOCK_TAGS and self._skipping[-1:] == ["p"]:
            self._skipping.pop()  # a hidden <p> left open ends where the next block starts, as in HTML
        if tag == "meta" and attrs.get("property") == "og:site_name" and attrs.get("content"):
            self.site_name = self.site_name or attrs["content"].strip()
        elif tag == "title" and not self._skipping:
            self._title = []
        elif tag in _SKIP_TAGS or tag in _BLOCK_TAGS:
            self._flush(self._offset())
            if tag in _SKIP_TAGS or _is_hidden(attrs):
                self._skipping.append(tag)
        elif _is_hidden(attrs) and tag not in _VOID_TAGS:
            self._skipping.append(tag)  # hidden inline text: skipped, the sentence around it goes on

    def handle_endtag(self, tag):
        if tag == "title" and self._title is not None:
            self.title = self.title or " ".join("".join(self._title).split()) or None
            self._title = None
        elif tag in self._skipping:  # also closes skipped elements left open inside it
            del self._skipping[len(self._skipping) - 1 - self._skipping[::-1].index(tag):]
        elif tag in _BLOCK_TAGS and not self._skipping:
            text = self._flush(self._offset())
            if tag == "h1" and text and self.h1 is None:
                self.h1 = text

    def handle_data(self, data):
        if self._title is not None:
            self._title.append(data)
        elif not self._skipping:
            if self._start is None and data.strip():
                start = self._offset()
                while self.raw[start].isspace():
                    start += 1
                self._start = start
            self._pieces.append(data)


@lru_cache(maxsize=8)
def _parse_html(raw: str) -> _Page:
    # Cached: chunking asks for the visible text of many ranges of the same page.
    return _Page(raw)
