"""Read article files into `Article`s: the text a reader is shown, the spans of the article's own
words in it (page furniture left out) and a little metadata (title, outlet, author, dates).

- .txt/.md/.markdown: the file's text, decoded (UTF-8, else the encoding charset-normalizer
  detects among the web's, Windows-1252 for text almost all ASCII); a Markdown file's is the
  plain text a reader of it sees (rag.markdown: no link addresses, pictures or emphasis marks).
  It is read line by line; lines of page furniture ("9 hours ago", photo credits, promos) are
  left out. A clipped article's front matter (a YAML block between "---" lines at the top) gives
  its title, address, author and date, and is not its text.
- .html/.htm: the article's main text as trafilatura extracts it (menus, share buttons, cookie
  banners and related links left out), after removing what a reader never sees (hidden
  elements, comments, scripts); title, author and site name from trafilatura, the publication
  date from htmldate.
- .mhtml/.mht/.webarchive: a page saved as one file with its images (MIME: Chrome, Edge; a property
  list: Safari): its HTML page read as above, the address it was saved from as the article's URL.
- .pdf: the text of each page as pypdf extracts it, hard-wrapped lines joined into paragraphs;
  `Article.pages` keeps where each page starts, so `page_of` names a citation's page.
- .eml: an e-mail (a newsletter) as its reader sees it, its subject the title (rag.mail).
- .docx: a Word document's paragraphs and table rows, its hidden text left out (rag.word); then
  read as a text file is.
- .csv/.jsonl/.json dumps, .rss/.atom/.xml feeds, .enex notebooks (Evernote's), .mbox mailboxes and
  .epub books (calibre's news issues) hold many articles: rag.archives reads them, one article
  per row, entry, note, message or document.
  `load_file` reads any supported file.

Every offset (spans, chunks, citations) points into `Article.text`, which is what the article
view shows: for Markdown, HTML and PDF that is the plain or extracted text, not the file's bytes.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import logging
import os
import re
import stat
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import yaml

from rag.config import Settings
from rag.errors import BadInputError
from rag.injection import speaks_to_assistant
from rag.schema import Article, ArticleRecord
from rag.text import LINE, MONTH_NAME, month_number, sentences

__all__ = ["READER_VERSION", "ARTICLE_SUFFIXES", "DUMP_SUFFIXES", "NOTES_SUFFIXES", "MAILBOX_SUFFIXES",
           "BOOK_SUFFIXES", "SUPPORTED_SUFFIXES", "parseable", "over_limit", "web_address",
           "ARCHIVE_SUFFIXES",
           "load_file", "load_or_skip", "load_article", "load_folder",
           "Listing", "article_files", "file_name", "file_type", "page_of", "content_hash",
           # the pieces rag.archives, rag.mail and rag.epub read the articles of a dump, feed, mail or book with
           "FEED_SUFFIXES", "read_bytes", "decode_text", "html_text", "text_lines", "drop_furniture", "title_of",
           "dates_in", "make_article", "entry_article", "require_within", "iso_date", "bad_file"]

# The version of these reading rules, recorded in the index. Raise it with a change that reads
# an article otherwise (its passages, title or metadata): the next sync reads every file again and
# embeds again only the articles whose passages or title changed (rag.sync). 2: front matter,
# and lines of Markdown images and links left out (2026-12-07). 3: a Markdown file read as the
# plain text a reader sees (rag.markdown), not its markup; an article with an address but no
# outlet named by its site; a saved page's canonical address kept (2026-12-07, later). 4: a
# newsletter's furniture ("View in browser", "Unsubscribe", its footer) left out (2026-12-07). 5: a
# dump's HTML text read as a reader sees it; camelCase field names ("publishedAt"), list or object
# values ("authors": [...]) and a role-less object's fields recognised; a CSV's delimiter its
# header's (2026-12-07, session 34). 6: a Nexis Uni, LexisNexis Academic or Factiva export read as
# its articles; RTF read (2026-12-07, session 35).
READER_VERSION = 6

# Files that are one article each, and files that hold many (rag.archives): dumps (.csv, .jsonl,
# .json: one article, a list of them, or JSON Lines), feeds, notebooks, mailboxes and books.
ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".mhtml", ".mht", ".webarchive", ".pdf", ".eml",
                    ".docx", ".rtf")
FEED_SUFFIXES = (".rss", ".atom", ".xml")
DUMP_SUFFIXES = (".csv", ".jsonl", ".json")
NOTES_SUFFIXES = (".enex",)  # a notebook exported from Evernote, whose web clipper kept many an archive
MAILBOX_SUFFIXES = (".mbox",)  # e-mail newsletters, kept as a mail program exports a folder
BOOK_SUFFIXES = (".epub",)  # an issue of a paper as calibre's "Fetch news" makes it, or a book
ARCHIVE_SUFFIXES = DUMP_SUFFIXES + FEED_SUFFIXES + NOTES_SUFFIXES + MAILBOX_SUFFIXES + BOOK_SUFFIXES
SUPPORTED_SUFFIXES = ARTICLE_SUFFIXES + ARCHIVE_SUFFIXES
_HTML_SUFFIXES = (".html", ".htm")
_MARKDOWN_SUFFIXES = (".md", ".markdown")
# A web page saved as one file with its images: MIME (Chrome, Edge), a property list (Safari).
_SAVED_PAGE_SUFFIXES = (".mhtml", ".mht", ".webarchive")
# What a news database delivers many articles in (rag.exports: Nexis Uni, LexisNexis, Factiva).
_EXPORT_SUFFIXES = (".docx", ".txt", ".pdf", ".rtf")
# Files that hold one article beside pictures or attachments: held to max_archive_bytes, their
# text to max_file_bytes.
_WITH_ATTACHMENTS = _SAVED_PAGE_SUFFIXES + (".eml", ".docx", ".rtf")

log = logging.getLogger(__name__)

# --- page furniture: lines that are on the page but are not the article ---

# Photo agencies: "/ Reuters" after a caption credits the picture, it does not name the outlet.
_AGENCY = r"(?:Reuters|AP|AFP|EPA(?:-EFE)?|Getty Images|AA|Anadolu(?: Agency)?|Xinhua|dpa|TASS|Shutterstock)"
_FURNITURE = [
    # "9 hours ago", "Updated 3 hours ago". "(?:\s*:)?\s*", not "\s*:?\s*": that tried every split of a
    # run of spaces between its two halves, quadratic (30,000 spaces after "Updated" took 16 s).
    re.compile(r"^(?:(?:last )?updated|published|posted)?(?:\s*:)?\s*(?:\d+|an?|one)\s+"
               r"(?:sec(?:ond)?|min(?:ute)?|h(?:ou)?r|day|week|month|year)s?\s+ago\.?$", re.I),
    # Caption credits: "... (Reuters). / Reuters", "(AP Photo/Evan Vucci)", "(Photo: AA)". The
    # agency must follow a "/", "(" or "Photo:" so that "..., he told Reuters." stays.
    re.compile(rf"(?:[/(|]|\bPhoto:)\s*{_AGENCY}(?:\s*Photo)?(?:\s*/\s*[^()/]{{1,40}})?\)?\.?$"),
    re.compile(r"\b(?:Getty Images|AP Photo(?:/[^()]{1,40})?)\)?\.?$"),
    re.compile(r"^(?:photo|image|picture|file photo|photograph)s?(?: credit)?\s*[:/]", re.I),
    # Calls to action of the website.
    re.compile(r"share your feedback|^sneak a peek at |^contact us\.?$|^advertisement$", re.I),
    re.compile(r"^share(?: this(?: article| story| page| post)?| on \w+| via \w+)?[.:!]?"
               r"(?:\s*[|·•]\s*share(?: on \w+| via \w+)?)*$", re.I),
    # A newsletter's: the link to its web version ("View this email in your browser", "Read
    # online"), and its footer, which says why it was sent and how to stop it.
    re.compile(r"^(?:view|read|open)\b.{0,40}?\b(?:browser|online|(?:on|in) (?:the |our )?(?:web|app))\b", re.I),
    re.compile(r"^(?:you(?: are|'re|’re)? receiv(?:ed|ing) this|this (?:e-?mail|message|newsletter) was sent to\b"
               r"|(?:unsubscribe|update (?:your )?preferences|manage (?:your )?(?:subscription|preferences)"
               r"|forward(?:ed)? (?:this|to a friend))\b)", re.I),
    # A line of nothing but Markdown images and links, as a clipping tool writes a page's pictures,
    # share buttons and menus ("![Delegates](https://.../talks.jpg)", "[Facebook](...) [X](...)"),
    # in a text file (a Markdown file's are its parser's to find: rag.markdown).
    re.compile(r"^(?:!?\[[^\[\]]*\]\([^()\s]*\)[\s|·•,]*)+$"),
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


# The size limits default to the settings' defaults (a dataclass field's default is also its class
# attribute), for callers with no settings at hand; the sync and the library pass their settings'.
def load_file(path: Path, max_bytes: int = Settings.max_file_bytes,
              max_archive_bytes: int = Settings.max_archive_bytes,
              name: str | None = None) -> tuple[list[Article], list[str]]:
    """The articles of any supported file: one for an article file, one per row or entry of a
    dump or feed; and the rows or entries skipped, as "file, row 7: reason". BadInputError
    (naming the file) when nothing in it is usable. `max_bytes` limits an article file and each
    article of a dump, `max_archive_bytes` a dump or feed. `name`: the file's name within its
    library folder (file_name), which its articles and the reasons go by; else its own name."""
    path = Path(path)
    try:
        if file_type(path) in ARCHIVE_SUFFIXES:
            from rag.archives import load_archive

            articles, skipped = load_archive(path, max_bytes, max_archive_bytes, name)
        else:
            article = load_article(path, max_bytes, name, max_archive_bytes)
            exported = None
            if file_type(path) in _EXPORT_SUFFIXES:
                from rag.exports import export_articles

                exported = export_articles(path, article.text, max_bytes)
            articles, skipped = exported or ([article], [])
    except BadInputError as exc:
        raise BadInputError(known_as(str(exc), path, name)) from None
    if name and name != path.name:
        articles = [replace(a, source=known_as(a.source, path, name), file=name) for a in articles]
        skipped = [known_as(reason, path, name) for reason in skipped]
    return articles, skipped


def known_as(text: str, path: Path, name: str | None) -> str:
    """`text` (an article's source, a reason it was skipped), which starts with the file's own
    name as every reader writes it, starting with `name` instead ("001.txt#3" -> "tech/001.txt#3")."""
    if name and text.startswith(path.name):
        return name + text[len(path.name):]
    return text


def load_or_skip(path: Path, max_bytes: int = Settings.max_file_bytes,
                 max_archive_bytes: int = Settings.max_archive_bytes,
                 name: str | None = None) -> tuple[list[Article], list[str]]:
    """load_file's articles and what it skips; for a file with no usable article (empty, binary,
    page furniture only), no article and the file's reason. The one rule of what a sync, its dry
    run and load_folder skip, so that a dry run says what the sync will do."""
    try:
        return load_file(path, max_bytes, max_archive_bytes, name)
    except BadInputError as exc:
        return [], [str(exc)]


def file_type(path: Path | str) -> str:
    """The type a file is read as, by its name: its suffix, lower-cased (".txt"). Apple Mail exports
    a mailbox as a folder "Name.mbox" holding a file named "mbox": that file is an ".mbox". So is
    a mail folder of Thunderbird's as it keeps it, live ("Local Folders/Newsletters", no suffix,
    beside its index "Newsletters.msf"), which new mail is appended to."""
    path = Path(path)
    if path.name == "mbox" and path.parent.suffix.lower() == ".mbox":
        return ".mbox"
    if not path.suffix and path.name and path.with_name(f"{path.name}.msf").is_file():
        return ".mbox"
    return path.suffix.lower()


def byte_limit(path: Path, max_bytes: int, max_archive_bytes: int) -> tuple[int, str]:
    """The size limit of this file and the setting that sets it: a dump's, a feed's or a page
    saved with its images (.mhtml, .webarchive), an e-mail or Word document with its attachments or
    pictures, or an article file's."""
    if file_type(path) in ARCHIVE_SUFFIXES + _WITH_ATTACHMENTS:
        return max_archive_bytes, "max_archive_bytes"
    return max_bytes, "max_file_bytes"


def load_article(path: Path, max_bytes: int = Settings.max_file_bytes, name: str | None = None,
                 max_archive_bytes: int = Settings.max_archive_bytes) -> Article:
    """Read one article file (ARTICLE_SUFFIXES); BadInputError (naming the file) when it is
    not usable. A page saved as one file (.mhtml, .webarchive) holds its images too: the file is
    held to `max_archive_bytes`, its page to `max_bytes`.
    `name`: its path within its library folder (file_name), none of whose folders is followed if
    it is a link (opened)."""
    path = Path(path)
    suffix = file_type(path)
    if suffix in ARCHIVE_SUFFIXES:
        raise bad_file(path, "a dump or feed holds many articles: read it with load_file")
    data = read_bytes(path, *byte_limit(path, max_bytes, max_archive_bytes), name)
    if suffix in _SAVED_PAGE_SUFFIXES:
        page, address = _saved_page(path, data, max_bytes)
        return _html_article(path, page, address)
    if suffix == ".pdf":
        return _pdf_article(path, data)
    if suffix == ".eml":
        from rag.mail import letter_article, read_message  # it builds the article with this module's rules

        return letter_article(path, read_message(path, data, path.name), path.name, max_bytes)
    if suffix == ".docx":
        from rag.word import read_word

        word = read_word(path, data, max_archive_bytes)
        require_within(word.text, max_bytes, path.name)
        text, front, body, unseen = word.text, {"title": word.title, "author": word.author}, 0, word.unseen
    elif suffix == ".rtf":
        text, front, body, unseen = _rtf_text(path, data), {}, 0, ""
        require_within(text, max_bytes, path.name)
    else:
        text = decode_text(path, data)
        if suffix in _HTML_SUFFIXES:
            return _html_article(path, text)
        front, body = front_matter(text)
        unseen = ""
    if suffix in _MARKDOWN_SUFFIXES:
        from rag.markdown import plain_text  # it reads HTML in Markdown with this module's rules

        rendered = plain_text(text[body:])
        text, body, unseen = rendered.text, 0, "\n\n".join([text[:body], rendered.unseen])
    kept, source = drop_furniture([line for line in text_lines(text) if line[0] >= body])
    if not kept:
        raise bad_file(path, "no article text (only page furniture such as credits or links)")
    return make_article(path, text, kept, unseen=unseen,
                        title=front.get("title") or title_of([t for _, _, t in kept]),
                        outlet=front.get("outlet") or source, url=front.get("url"), author=front.get("author"),
                        dates=dates_in(text[body:]), published=front.get("date") or _dateline(text[body:]))


@dataclass
class Listing:
    """A library folder's entries that may be articles (article_files), and the sub-folders that
    could not be listed, by their names within it ("2024/05") with why."""

    files: list[Path]
    unlisted: dict[str, str] = field(default_factory=dict)  # name -> reason ("Permission denied")

    def reasons(self) -> list[str]:
        """Each unlisted sub-folder as a reason it was skipped: "2024/05/: cannot be listed (...)"."""
        return [f"{name}/: cannot be listed ({why})" for name, why in self.unlisted.items()]


def article_files(folder: Path) -> Listing:
    """The entries of `folder` and of its sub-folders, at any depth, that may be articles, in the
    order of their names within it (file_name): everything but hidden entries and what hidden
    folders hold, and the folder of resources a browser saves beside a page (_page_resources). An
    archive kept by year or by section ("2024/05/...", "business/001.txt") is read whole. A link
    is listed, never followed (a linked folder is not entered), and so are special files, so that
    load_article says why it skips them. BadInputError when the folder is missing or cannot be
    listed, or holds no file of a supported type; a sub-folder that cannot be listed (its
    permissions, a mount that failed) is named in the listing's `unlisted`, so that a sync says so
    and keeps what it indexed from it (its files may all still be there)."""
    folder = Path(folder)
    if not folder.exists():
        raise BadInputError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise BadInputError(f"{folder} is not a folder: give the folder that holds the articles")
    files, unlisted = [], {}

    def unlisted_folder(exc: OSError) -> None:
        if Path(exc.filename) == folder:
            raise BadInputError(f"{folder} cannot be read: {exc.strerror}")
        unlisted[file_name(folder, Path(exc.filename))] = exc.strerror or type(exc).__name__

    for root, folders, names in os.walk(folder, onerror=unlisted_folder):  # links to folders are not walked into
        folders[:] = [f for f in folders if not f.startswith(".") and not _page_resources(f, names)]
        files += [Path(root, f) for f in folders if Path(root, f).is_symlink()]
        files += [Path(root, n) for n in names if not n.startswith(".")]
    files.sort(key=lambda path: file_name(folder, path))
    if not any(file_type(p) in SUPPORTED_SUFFIXES for p in files):
        unread = f"; {', '.join(Listing([], unlisted).reasons())}" if unlisted else ""
        raise BadInputError(f"no article files in {folder} (the types read: {', '.join(SUPPORTED_SUFFIXES)}){unread}")
    return Listing(files, dict(sorted(unlisted.items())))


def _page_resources(folder: str, names: list[str]) -> bool:
    """Whether `folder` holds what a browser saved with a page beside it: "Webpage, Complete" in
    Chrome, Edge and Firefox writes "Story.html" and, for its images, scripts and frames,
    "Story_files/" (Chromium's SavePackage: the page's name + "_files", in every language), where
    a frame (an advert, an embedded post) is an .html file of its own, not the article."""
    stem = folder.removesuffix("_files")
    # Whatever the case: a page renamed "Story.HTML" by hand keeps its folder beside it.
    return stem != folder and bool({f"{stem}{suffix}".casefold() for suffix in _HTML_SUFFIXES}
                                   & {name.casefold() for name in names})


def file_name(folder: Path, path: Path) -> str:
    """What a file under a library folder is known by: its path within it, with "/" between
    folders ("tech/001.txt"); a file of the folder itself, its name. Two sections' "001.txt" are
    then two articles, and a citation says which."""
    # As strings when the path starts with the folder's (as article_files lists them): pathlib's
    # relative_to took 7.7 us a call, seconds a sync over 150,000 files; this 0.5 us.
    folder_text, path_text = os.fspath(folder), os.fspath(path)
    if os.sep == "/" and path_text.startswith(folder_text + "/") and folder_text not in ("", "."):
        return path_text[len(folder_text) + 1:]
    return Path(path).relative_to(folder).as_posix()


def load_folder(folder: Path, max_bytes: int = Settings.max_file_bytes,
                max_archive_bytes: int = Settings.max_archive_bytes) -> tuple[list[Article], list[str]]:
    """Load the files in `folder` and its sub-folders (article_files); unusable ones are skipped
    as "name: reason"."""
    listing = article_files(folder)
    articles, skipped = [], listing.reasons()
    for reason in skipped:
        log.warning("skipping %s", reason)
    for path in listing.files:
        found, left_out = load_or_skip(path, max_bytes, max_archive_bytes, file_name(folder, path))
        for reason in left_out:
            log.warning("skipping %s", reason)
        articles += found
        skipped += left_out
    if not articles:
        raise BadInputError(f"no usable article in {folder}: " + "; ".join(skipped))
    return articles, skipped


def page_of(article: Article | ArticleRecord, offset: int) -> int | None:
    """The 1-based page of a PDF article that holds text[offset] (a citation's start); None for
    articles without pages."""
    if not article.pages:
        return None
    return max(bisect_right(article.pages, offset), 1)


def make_article(path: Path, text: str, kept: list[tuple[int, int, str]], source: str | None = None,
                 unseen: str = "", **metadata) -> Article:
    """The Article of `text` read from `path`, its own words the `kept` lines; `source` names a
    row or entry of a dump or feed (rag.archives), else the file's name does. `unseen` is the
    text of a page that no reader sees (hidden elements, scripts, comments).

    Metadata from dumps, feeds and PDFs is whatever their authors wrote (found by fuzzing): a
    title is folded to one line (a blank line in it broke the web app's markup), a web address
    is kept only if it is one (http or https: a dump's "javascript:..." reached API clients), and
    a lone surrogate from a JSON escape ("\\ud800") becomes "?" (it failed every later encode)."""
    metadata = {key: _valid(value) for key, value in metadata.items()}
    if metadata.get("title"):
        metadata["title"] = " ".join(metadata["title"].split())
    if "url" in metadata:
        metadata["url"] = web_address(metadata["url"])
        # Named by its web site when nothing names its outlet, as trafilatura names a page's
        # (a clipping's front matter and most dumps give an address but no outlet).
        if metadata["url"] and not metadata.get("outlet"):
            metadata["outlet"] = site_of(metadata["url"])
    text = _valid(text)
    return Article(
        source=source or path.name,
        file=path.name,
        path=str(path),
        text=text,
        spans=[(s, e) for s, e, _ in kept],
        content_hash=content_hash(text),
        addresses_assistant=speaks_to_assistant("\n\n".join([metadata.get("title") or "", text, unseen])),
        **metadata,
    )


def entry_article(path: Path, source: str | None, origin: str | None, body: str, where: str, *,
                  title: str | None, published: str | None, **metadata) -> Article:
    """The Article of one of many in a file (a dump's row, a feed's entry, a note, a message) or of
    an e-mail (`source` None: named by its file), whose text is its title, then `body`, each line's
    whitespace folded. The headline heads the text as in a saved page, so a passage about it can be
    cited. BadInputError (saying `where`) when nothing but furniture is left."""
    lines = [" ".join(line.split()) for line in body.splitlines()]
    if title and any(lines) and lines[0] != title:
        lines = [title, *lines]
    text = "\n".join(line for line in lines if line).strip() + "\n"
    kept, trailer_outlet = drop_furniture(text_lines(text))
    if not kept:
        raise BadInputError(f"{where}: no text")
    return make_article(path, text, kept, source, title=title or title_of([t for _, _, t in kept]),
                        dates=dates_in(text), published=published, origin=origin,
                        **{**metadata, "outlet": metadata.get("outlet") or trailer_outlet})


def require_within(text: str, max_bytes: int, where: str) -> None:
    """BadInputError when the text of one of many articles in a file (a row, a note, a message) is
    over an article's size limit."""
    if len(text.encode("utf-8")) > max_bytes:
        raise over_limit(where, max_bytes)


def over_limit(where: str, max_bytes: int) -> BadInputError:
    """The error of one of many articles in a file whose text is over an article's size limit."""
    return BadInputError(f"{where}: its text is over the {max_bytes:,}-byte limit of an article "
                         "(setting max_file_bytes)")


def site_of(url: str) -> str | None:
    """The web site of an address: its host without "www." ("https://www.bbc.co.uk/news/x" ->
    "bbc.co.uk")."""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # "http://[::1" and other addresses urllib cannot split
        return None
    return host.removeprefix("www.") if host else None


def web_address(url: str | None) -> str | None:
    """`url` if it is a web address a reader may follow (http or https), else None."""
    return url if url and url.strip().lower().startswith(("https://", "http://")) else None


def _valid(value):
    """Text with any lone surrogate as "?" (one character for one: offsets stay put)."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


def content_hash(text: str) -> str:
    """The SHA-256 of an article's text: chunk ids derive from it, and an unchanged row of a dump
    is recognised by it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bad_file(path: Path, reason: str) -> BadInputError:
    return BadInputError(f"{path.name}: {reason}")


def read_bytes(path: Path, max_bytes: int, setting: str = "max_file_bytes", name: str | None = None) -> bytes:
    with opened(path, max_bytes, setting, name) as f:
        return f.read()


@contextmanager
def opened(path: Path, max_bytes: int, setting: str = "max_file_bytes", name: str | None = None) -> Iterator[BinaryIO]:
    """The file, open for reading, if it is one that is read: BadInputError (naming the file and
    why) for a name that is not UTF-8, an unsupported type, a link, a pipe or device, a file over
    `max_bytes`, or one that cannot be read. A sync's plan hashes files through it too, so that it
    skips exactly what reading would refuse. `name`: the file's path within its library folder
    (file_name, "2024/05/a.txt"); a folder on it that is a link is refused too (_open_inside)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:  # bytes no UTF-8 reads: the name could be neither stored nor cited
        shown = os.fsencode(path.name).decode("utf-8", "backslashreplace")
        raise BadInputError(f"{shown}: its name is not UTF-8 text; rename the file") from None
    try:
        os.fspath(path.parent).encode("utf-8")
    except UnicodeEncodeError:  # a sub-folder's name (file_name): the same
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise BadInputError(f"{shown}: the name of a folder it is in is not UTF-8 text; rename the folder") from None
    if file_type(path) not in SUPPORTED_SUFFIXES:
        raise bad_file(path, f"unsupported file type {path.suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        fd = _open_inside(path, name)
    except _LinkedFolder:
        raise bad_file(path, "a folder on its path is a symbolic link or no folder any more: only files inside "
                             "the library folder are read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise bad_file(path, "a symbolic link: only files inside the library folder are read "
                                 "(copy the article in instead)") from None
        raise bad_file(path, f"cannot read it: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise bad_file(path, "not a regular file (a pipe, socket or device): not read")
        if info.st_size > max_bytes:
            raise bad_file(path, f"{info.st_size:,} bytes, over the {max_bytes:,}-byte limit (setting {setting})")
        try:
            yield f
        except OSError as exc:
            raise bad_file(path, f"cannot read it: {exc.strerror}") from None


class _LinkedFolder(Exception):
    """A folder on the path of a file to read is a link (or was replaced by a file)."""


def _open_inside(path: Path, name: str | None) -> int:
    """A descriptor of the file at `path`, open for reading. Only a regular file is read: a link
    could point anywhere on the machine (/etc/passwd), and opening a pipe would block. O_NOFOLLOW
    refuses a link at the moment of opening, so it cannot be swapped in after a check. With
    `name`, the file's path within its library folder ("2024/05/a.txt"), each folder on that path
    is opened in turn from the one before, none followed if it is a link: a linked sub-folder is
    never listed (article_files), and one swapped in for a sub-folder between the listing and the
    reading (by someone who can write to the library folder) would otherwise lead out of it."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    parts = name.split("/") if name else []
    if len(parts) < 2 or Path(path).parts[-len(parts):] != tuple(parts):
        return os.open(path, flags)
    folder = os.open(Path(path).parents[len(parts) - 1], os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _LinkedFolder from None
                raise
            os.close(folder)
            folder = inner
        return os.open(parts[-1], flags, dir_fd=folder)
    finally:
        os.close(folder)


# The encodings a text file is read in when it is not UTF-8: those the WHATWG Encoding Standard
# has browsers read (news is saved from the web), less the Macintosh ones of before 2001. Among
# every encoding Python knows, charset-normalizer read "Zürich" in a Windows-1252 file as DOS
# Baltic "Z³rich", curly quotes as Mac Roman "ì...î", and KOI8-R Russian as another Cyrillic.
_WEB_ENCODINGS = ["cp1252", "latin_1", "iso8859_15", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256",
                  "cp1257", "cp1258", "cp874", "cp866", "koi8_r", "koi8_u", "iso8859_2", "iso8859_3", "iso8859_4",
                  "iso8859_5", "iso8859_6", "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14",
                  "iso8859_16", "gb18030", "gbk", "big5", "euc_jp", "iso2022_jp", "shift_jis", "euc_kr",
                  "utf_16_be", "utf_16_le"]
# When a text decodes equally well in several single-byte encodings, the commonest for Western news
# wins: Windows-1252, a superset of Latin-1's letters.
_PREFERRED_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")
# A text whose bytes are almost all ASCII (English with a "£", an "é" or curly quotes) holds too few
# others for the detector to judge: of the BBC corpus's 646 articles with such a character, saved
# in Windows-1252, it read 230 otherwise ("£3.2bn" as Polish "Ł3.2bn", "£1" as Japanese "｣1",
# which it scored cleaner). Under this share of other bytes (the BBC articles reach 1.0%; Polish,
# Czech, Turkish and Lithuanian sentences 8-17%), Windows-1252 is read whenever it reads the
# bytes. A charset the file declares (an HTML page's meta tag) still wins: the detector then
# offers nothing else.
_SPARSE_SHARE = 0.02
_ASCII = bytes(range(128))


def decode_text(path: Path, data: bytes, stray_nuls: bool = False) -> str:
    """The file's text: UTF-8 (a byte-order mark dropped), else the encoding detected. A NUL byte
    says binary data, unless `stray_nuls` lets a few through (under 1% of the bytes: a dump's
    reader then skips the rows that hold one; UTF-16 without its byte-order mark is half NULs)."""
    bom = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if bom:
        try:
            text = data.decode(bom)  # the codec drops its own mark
        except UnicodeDecodeError:
            raise bad_file(path, f"not a text file (its byte-order mark says {bom.upper()}, "
                                 "but what follows is not)") from None
    elif b"\0" in data and not (stray_nuls and data.count(b"\0") < len(data) // 100):
        raise bad_file(path, "not a text file (it contains NUL bytes)")
    else:
        try:
            # utf-8-sig reads plain UTF-8 unchanged and drops a leading byte-order mark, which
            # would otherwise end up in the title.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _detected(path, data)
    if not text.strip():
        raise bad_file(path, "empty file")
    return text


_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


def _detected(path: Path, data: bytes) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(data, cp_isolation=_WEB_ENCODINGS)
    best = results.best()
    if best is None:
        raise bad_file(path, "not a text file (no text encoding reads it: binary data?)")
    sparse = len(data.translate(None, _ASCII)) < _SPARSE_SHARE * len(data)  # the bytes outside ASCII, counted
    as_good = [r for r in results if sparse or (r.chaos, r.coherence) == (best.chaos, best.coherence)]
    encoding = next((preferred for preferred in _PREFERRED_ENCODINGS
                     if any(preferred in r.could_be_from_charset for r in as_good)), best.encoding)
    log.info("%s is not UTF-8: read as %s", path.name, encoding)
    return data.decode(encoding)


def text_lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each non-blank line, surrounding whitespace left out of the span."""
    units = []
    for m in LINE.finditer(text):
        line = m.group()
        stripped = line.strip()
        if stripped:
            start = m.start() + len(line) - len(line.lstrip())
            units.append((start, start + len(stripped), stripped))
    return units


def drop_furniture(units: list[tuple[int, int, str]]) -> tuple[list[tuple[int, int, str]], str | None]:
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


def title_of(texts: list[str]) -> str:
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


def dates_in(text: str) -> list[str]:
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


# A line near the top that is nothing but a date, perhaps labelled and timed: "16 May 2025",
# "Published: May 16, 2025 14:05 GMT", "2025-05-16". "Updated ..." is a later date, not this one.
_DATELINE = re.compile(
    rf"^(?:(?:first\s+)?(?:published|posted|dated?)\s*(?:on\s*)?:?\s*)?(?:\w+day,?\s+)?"
    rf"(?:(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})|{_MONTH.format('m1')}\s+(?P<d1>\d{{1,2}}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>\d{{1,2}})\s+{_MONTH.format('m2')},?\s+(?P<y2>\d{{4}}))"
    rf"(?:,?\s*(?:at\s+)?\d{{1,2}}[:.]\d{{2}}(?:\s*[ap]\.?m\.?)?(?:\s*[A-Z]{{2,4}}(?:[+-]\d{{1,2}})?)?)?\.?$",
    re.IGNORECASE)
_DATELINE_LINES = 8  # where a dateline can be: under the headline and the byline


def _dateline(text: str) -> str | None:
    """The publication date an explicit dateline near the top states (ISO), else None."""
    for _, _, line in text_lines(text)[:_DATELINE_LINES]:
        m = _DATELINE.match(line)
        if not m:
            continue
        if m["iso"]:
            try:
                return date.fromisoformat(m["iso"]).isoformat()
            except ValueError:
                return None
        return _iso(int(m["y1"] or m["y2"]), month_number(m["m1"] or m["m2"]), int(m["d1"] or m["d2"]))
    return None


# --- an article's fields: a dump's columns, a Markdown file's front matter ---

# An article's fields by the names dumps (rag.archives: columns, JSON keys) and front matter give
# them, compared lower-cased with "-", " " and a camelCase capital read as "_" ("publishedAt", as
# NewsAPI writes it, is "published_at"). news-please writes maintext, date_publish, authors and
# source_domain; Wallabag's export content, published_at, published_by and domain_name; the
# Guardian's API webTitle, webUrl, webPublicationDate and (in "fields") bodyText. "source"
# is an outlet, as in news datasets ("source": "BBC"), not a file; one that is a web address is
# the article's url.
FIELDS = {
    "text": ("text", "content", "body", "article", "story", "full_text", "maintext", "body_text"),
    "title": ("title", "headline", "heading", "web_title"),
    "date": ("date", "published", "pubdate", "pub_date", "publish_date", "published_at", "date_publish",
             "datetime", "timestamp", "web_publication_date"),
    "url": ("url", "link", "href", "web_url"),
    "outlet": ("outlet", "source", "publisher", "site", "site_name", "sitename", "source_name", "domain",
               "domain_name", "source_domain"),
    "author": ("author", "authors", "byline", "creator", "published_by"),
}


def field_role(name, value=None) -> str | None:
    """The part (a key of FIELDS) a column, key or front matter field of this name plays, if any;
    "url" for an outlet's field holding a web address (Obsidian's "source: https://...")."""
    key = re.sub(r"[\s-]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())).lower()
    role = next((role for role, names in FIELDS.items() if key in names), None)
    return "url" if role == "outlet" and isinstance(value, str) and web_address(value.strip()) else role


def iso_date(value: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date field: ISO 8601 ("2025-05-16T09:00:00Z"), an
    e-mail/RSS date ("Fri, 16 May 2025 09:00:00 GMT"), or a written one ("16 May 2025")."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    written = dates_in(value)
    return written[0] if written and len(written[0]) == 10 else None


# A block of YAML between "---" lines at the top of a Markdown file: how the Obsidian Web Clipper,
# MarkDownload, Jekyll and Hugo write an article's title, address, author and date.
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?(?:\n|\Z)",
                           re.DOTALL | re.MULTILINE)
_FRONT_MATTER_CHARS = 20_000  # a longer block is no front matter (and YAML is not read past it)


def front_matter(text: str) -> tuple[dict[str, str], int]:
    """The article's metadata from a front matter block (its FIELDS but the text: title, date as
    ISO, url, outlet, author, each one line of text, present only when given) and the offset where
    the article's own text begins after it; ({}, 0) without one, or when the block is not YAML
    mapping names to values. A clipping tool's "created" (when it was clipped) is not the date."""
    m = _FRONT_MATTER.match(text[:_FRONT_MATTER_CHARS])
    if not m:
        return {}, 0
    try:
        fields = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return {}, 0
    if not isinstance(fields, dict):
        return {}, 0
    found = {}
    for name, value in fields.items():
        role, line = field_role(name, value), _one_line(value)
        if role == "date":
            line = value.isoformat()[:10] if isinstance(value, date) else iso_date(line)
        elif role == "url":
            line = web_address(line)
        if role and role != "text" and line and role not in found:
            found[role] = line
    return found, m.end()


def _one_line(value) -> str | None:
    """A front matter value as one line of text: a list (of authors) joined, Obsidian's "[[Jane
    Doe]]" link as its name; None for anything else (a mapping, nested lists)."""
    if isinstance(value, list):
        names = [_one_line(item) for item in value[:20] if not isinstance(item, list | dict)]
        return ", ".join(n for n in names if n) or None
    if isinstance(value, str | int | float | date) and not isinstance(value, bool):
        line = " ".join(str(value).split()).removeprefix("[[").removesuffix("]]")
        return line[:300] or None
    return None


# --- HTML ---

# What a reader of the page never sees, removed before extraction: a place to hide instructions
# for a model. trafilatura drops scripts and comments itself but keeps hidden elements and
# <noscript>. Hiding done by a style sheet (a class that some <style> makes display:none) is
# not seen here; these are the inline and conventional forms.
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_HIDDEN_CLASSES = {"hidden", "d-none", "sr-only", "visually-hidden", "screen-reader-text"}
_UNSEEN_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")


# Control characters are never text a reader sees, and lxml refuses them in any text it is given.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parseable(page: str) -> str:
    """A decoded HTML or XHTML page as lxml parses it: an XHTML page's XML declaration names an
    encoding, which lxml refuses on decoded text; control characters are never page text and
    lxml's extraction refuses them."""
    return CONTROL_CHARACTERS.sub("", re.sub(r"^\s*<\?xml[^>]*\?>", "", page))


def _html_article(path: Path, page: str, address: str | None = None) -> Article:
    """The article of an HTML page; its address the one it was saved from (`address`, as a saved
    page records it), else the one its markup gives (its canonical link)."""
    import trafilatura
    from htmldate import find_date
    from lxml import etree
    from lxml.html import fromstring

    try:
        tree = fromstring(parseable(page))
        unseen = remove_unseen(tree)
        # Only the page's markup (meta tags, <time>, the URL) is asked, not its body text: a year
        # mentioned in passing is not the date the article was published.
        published = find_date(tree, extensive_search=False, original_date=True)
        doc = trafilatura.bare_extraction(tree, with_metadata=True, include_comments=False, include_tables=True)
    except (etree.ParserError, ValueError) as exc:
        raise bad_file(path, f"not a readable HTML page ({exc})") from None
    body = [" ".join(line.split()) for line in (doc.text if doc and doc.text else "").split("\n")]
    body = [line for line in body if line]
    if not body:
        raise bad_file(path, "no article text found in the page")
    title = doc.title and " ".join(doc.title.split())
    # The headline heads the text, as in a .txt article: the article view then starts with it
    # and a passage about it can be cited. trafilatura usually leaves it out of the body.
    if title and body[0] != title:
        body.insert(0, title)
    text = "\n\n".join(body) + "\n"
    kept = text_lines(text)
    return make_article(path, text, kept, title=title or title_of([t for _, _, t in kept]), outlet=doc.sitename or None,
                        author=doc.author or None, dates=dates_in(text), published=published, unseen=unseen,
                        url=web_address(address) or doc.url)


def _saved_page(path: Path, data: bytes, max_bytes: int) -> tuple[str, str | None]:
    """The HTML page of a web page saved as one file with its images, style sheets and frames,
    and the address it was saved from."""
    html, charset, address = (_web_archive if path.suffix.lower() == ".webarchive" else _mime_page)(path, data)
    if not html.strip():  # decode_text would call the file empty
        raise bad_file(path, "its web page is empty")
    if len(html) > max_bytes:
        raise bad_file(path, f"its page is {len(html):,} bytes, over the {max_bytes:,}-byte limit (setting "
                             "max_file_bytes)")
    try:
        text = html.decode(charset) if charset else decode_text(path, html)
    except (LookupError, UnicodeDecodeError):  # a charset Python does not know, or a wrong one
        text = decode_text(path, html)
    return text, address


def _mime_page(path: Path, data: bytes) -> tuple[bytes, str | None, str | None]:
    """MHTML (Chrome's and Edge's "Webpage, Single File"): a MIME message whose first HTML part is
    the page and whose other parts are its images, style sheets and frames. The page's bytes,
    charset and address."""
    import email

    message = email.message_from_bytes(data)
    page = next((part for part in message.walk() if part.get_content_type() == "text/html"), None)
    if page is None:
        raise bad_file(path, "not a saved web page (no HTML page in it)")
    html = page.get_payload(decode=True) or b""  # undoes quoted-printable or base64
    return html, page.get_content_charset(), message.get("Snapshot-Content-Location") or page.get("Content-Location")


def _web_archive(path: Path, data: bytes) -> tuple[bytes, str | None, str | None]:
    """A Safari web archive (what Safari's File > Save As saves by default): a property list whose
    main resource is the page, beside its images, style sheets and frames. The page's bytes,
    charset and address."""
    import plistlib

    try:
        archive = plistlib.loads(data)
    except Exception:  # noqa: BLE001 - plistlib raises what its parser meets (ValueError, ExpatError, struct.error...)
        raise bad_file(path, "not a Safari web archive (not a property list)") from None
    page = archive.get("WebMainResource") if isinstance(archive, dict) else None
    if not isinstance(page, dict) or not isinstance(page.get("WebResourceData"), bytes):
        raise bad_file(path, "not a Safari web archive (no page in it)")
    kind = page.get("WebResourceMIMEType")
    if kind not in ("text/html", "application/xhtml+xml"):
        raise bad_file(path, f"not a saved web page (its page is {kind or 'of no type'})")
    charset, address = page.get("WebResourceTextEncodingName"), page.get("WebResourceURL")
    return (page["WebResourceData"], charset if isinstance(charset, str) else None,
            address if isinstance(address, str) else None)


# Text that is HTML, not prose: it closes a tag of a page's text or breaks a line with <br>. A
# read-later app's export (Wallabag's "content") and a CMS's dump hold each article as its HTML;
# read raw, its passages were half tags. Prose that names a tag ("the <p> element") closes none.
_MARKUP = re.compile(r"</(?:p|div|span|a|li|ul|ol|h[1-6]|em|strong|b|i|blockquote|figure|section|article|td|tr)\s*>"
                     r"|<br\s*/?>", re.IGNORECASE)


def holds_markup(text: str) -> bool:
    """Whether a dump's text is HTML, to be read as a reader sees it (html_text)."""
    return bool(_MARKUP.search(text))


def html_text(fragment: str) -> tuple[str, str]:
    """(The text a reader sees in a piece of HTML (a feed entry's, a block in Markdown), the text
    no reader sees): paragraphs and line breaks kept as lines, hidden elements, scripts and
    comments left out, as from a page (remove_unseen)."""
    from lxml import etree
    from lxml.html import fragment_fromstring

    if "<" not in fragment:
        return fragment, ""
    try:
        # A control character kept in the tree fails when a line break is added beside it.
        tree = fragment_fromstring(CONTROL_CHARACTERS.sub("", fragment), create_parent="div")
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]+>", " ", fragment), ""
    unseen = remove_unseen(tree)
    for node in tree.iter("br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr"):
        node.tail = "\n" + (node.tail or "")
    return tree.text_content(), unseen


def remove_unseen(tree) -> str:
    """Remove what a reader never sees; returns its text, where a page may hide orders for a model."""
    unseen = tree.xpath("//comment() | //processing-instruction()") + list(tree.iter(_UNSEEN_TAGS))
    unseen += [node for node in tree.iter() if isinstance(node.tag, str) and _is_hidden(node)]
    hidden = "\n\n".join((node.text or "") if not isinstance(node.tag, str) else "".join(node.itertext())
                           for node in unseen)
    for node in unseen:  # collected first: removing while iterating skips nodes
        _drop(node)
    return hidden


def _is_hidden(node) -> bool:
    attrs = node.attrib
    return ("hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true"
            or bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))
            or not _HIDDEN_CLASSES.isdisjoint((attrs.get("class") or "").split()))


def _drop(node) -> None:
    """Remove a node but not the text that follows it ("Visible <span hidden>x</span>four.")."""
    parent = node.getparent()
    if parent is None:
        return
    tail = node.tail
    if tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(node)


# --- PDF ---

_PAGE_NUMBER = re.compile(r"^(?:page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$|^[-–]\s*\d{1,4}\s*[-–]$", re.I)


def _rtf_text(path: Path, data: bytes) -> str:
    """The text of an RTF document (striprtf: its groups of fonts, colours, pictures and document
    properties left out). RTF is ASCII, its other characters escaped, each \\'xx in the code page
    it names (\\ansicpg1251), else Windows-1252; BadInputError for a file that is not RTF."""
    from striprtf.striprtf import rtf_to_text

    raw = data.removeprefix(b"\xef\xbb\xbf").decode("latin-1")  # ASCII byte for byte: striprtf decodes the escapes
    if not raw.lstrip().startswith("{\\rtf"):
        raise bad_file(path, "not an RTF document (it does not start with {\\rtf)")
    code_page = re.search(r"\\ansicpg(\d+)", raw[:2000])
    encoding = f"cp{code_page.group(1)}" if code_page else "cp1252"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        return rtf_to_text(raw, encoding=encoding, errors="replace")
    except (ValueError, IndexError, RecursionError) as exc:  # a damaged group or escape
        raise bad_file(path, f"not a readable RTF document ({type(exc).__name__}: {exc})") from None


def _pdf_article(path: Path, data: bytes) -> Article:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise bad_file(path, "an encrypted PDF: save a copy without a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        declared = metadata.title.strip() if metadata and metadata.title and metadata.title.strip() else None
        author = (metadata.author or "").strip() or None if metadata else None
    except BadInputError:
        raise
    except DependencyError:  # AES encryption needs the optional `cryptography` package
        raise bad_file(path, "an encrypted PDF (AES): save a copy without a password") from None
    # pypdf meets damaged files with whatever its parser raises: besides its own errors, found by
    # fuzzing (tests/test_fuzz.py), AssertionError for a reference inside a content stream,
    # NotImplementedError for an unknown filter, ValueError, KeyError, TypeError, RecursionError.
    except Exception as exc:
        raise bad_file(path, f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    # A line that fills the column (about as long as the document's longest lines) was wrapped.
    # The 90th percentile, not the longest: one overlong line (a URL) does not set the column.
    widths = sorted(len(" ".join(line.split())) for page in pages for line in page.split("\n") if line.strip())
    full = 0.8 * widths[int(0.9 * (len(widths) - 1))] if len(widths) >= 3 else float("inf")
    paragraphs = [_paragraphs(page, full) for page in pages]
    running = _running_lines(paragraphs)
    text, starts = "", []
    for page in paragraphs:
        starts.append(len(text))
        kept = [p for p in page if p not in running]
        if kept:
            text += "\n\n".join(kept) + "\n\n"
    if not text.strip():
        raise bad_file(path, "no text in the PDF (a scanned document? run OCR on it first)")
    lines = text_lines(text)
    return make_article(path, text, lines, title=declared or title_of([t for _, _, t in lines]), author=author,
                        dates=dates_in(text), published=_dateline(text), pages=starts)


def _paragraphs(page: str, full: float) -> list[str]:
    """A page's text as paragraphs: its hard-wrapped lines joined.

    pypdf gives one line per printed line. A line at least `full` characters long was wrapped
    and goes on in the next; a shorter one ends a paragraph (or is a heading). A word hyphenated
    at a line's end is joined back when a lower-case letter follows.
    """
    lines = [" ".join(line.split()) for line in page.split("\n")]
    paragraphs, current = [], ""
    for line in lines:
        if _PAGE_NUMBER.match(line):
            line = ""  # a page number printed at the top or foot ends the paragraph before it
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current.endswith("-") and line[:1].islower() and current[-2:-1].isalpha():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        if len(line) < full:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Running headers and footers: short paragraphs printed on most pages of a longer PDF."""
    if len(pages) < 3:
        return set()
    counts = Counter(p for page in pages for p in set(page) if len(p) < 100)
    return {p for p, n in counts.items() if n > len(pages) / 2}
