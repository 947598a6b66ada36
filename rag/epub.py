"""EPUB: the e-books that calibre's "Fetch news" (and KindleEar, its fork) makes of a newspaper's
or a magazine's issue, one document per article, which is how many keep a paper to read offline;
and books, a document per chapter.

A book is a zip file: its package document (found through META-INF/container.xml) lists its
documents in reading order (the spine) and its metadata. Each document in the spine is an
article, read as a reader sees it (rag.loading.html_text); its title is the document's own (its
<title>, else its first heading). Navigation is not an article: a document that is mostly links
(a table of contents) or holds calibre's menus of sections and articles; nor are calibre's
"Next | Section Menu" bars. An issue's date (the package's dc:date: when calibre made it) is each article's date, and
its publication's name, as calibre records it, its outlet; calibre puts the address an article
was downloaded from at its foot, which becomes its url. A book's publisher is the outlet and its
author the author.

The zip is read member by member, each held to max_file_bytes by what it declares (a member that
expands beyond it is not read); the package's XML is read without entities, a DTD or the network.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from rag.errors import BadInputError
from rag.loading import bad_file, decode_text, iso_date, over_limit, parseable, web_address

# calibre's own pages: the menus of an issue's sections and of a section's articles (a document
# that holds one is navigation), and the bar of links above and below each article ("| Next |
# Section Menu | Main Menu | Previous |", and at the foot the address it was downloaded from).
_MENU_CLASSES = {"calibre_feed_list", "calibre_article_list", "toc"}
_BAR_CLASS = "calibre_navbar"
# A document more than this share of whose words are links is a table of contents, not an article.
_LINKED_SHARE = 0.6
# How calibre names a periodical in its package: "periodical:magazine:The Economist".
_PERIODICAL = re.compile(r"^periodical:[^:]*:(.+)$")
_DOCUMENT_TYPES = ("application/xhtml+xml", "text/html")
# The container and the package document list a book's files: a few hundred kilobytes for a long
# one. Not articles, so not held to max_file_bytes, but not read whatever they declare either.
_PACKAGE_BYTES = 20_000_000


@dataclass
class Document:
    """A document of the book's reading order: its place, its path in the zip, its text as a
    reader sees it (html with calibre's bars left out), its title and the address it came from."""
    number: int
    name: str
    html: str
    title: str | None = None
    url: str | None = None


@dataclass
class Book:
    outlet: str | None
    author: str | None
    published: str | None
    documents: list[Document] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_book(path: Path, data: bytes, max_bytes: int) -> Book:
    """The book's metadata and the documents of its reading order that are articles (navigation
    and documents with no words left out); BadInputError when the file is no readable EPUB, or
    its text is encrypted (DRM). A document over `max_bytes` is skipped with its reason."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise bad_file(path, f"not a readable EPUB book ({exc})") from None
    with book:
        package_name = _package_name(path, book)
        package = _xml(path, _member(path, book, package_name, _PACKAGE_BYTES), "its package document")
        if _encrypted(book):
            raise bad_file(path, "its text is encrypted (DRM): calibre, or the shop that sold it, can give a copy "
                                 "without it")
        result = _metadata(package)
        folder = posixpath.dirname(package_name)
        items = {item.get("id"): item for item in package.iter("{*}item")}
        spine = [items.get(ref.get("idref")) for ref in package.iter("{*}itemref")]
        number = 0
        for item in spine:
            if item is None or item.get("media-type") not in _DOCUMENT_TYPES or "nav" in (item.get("properties") or ""):
                continue
            number += 1
            name = posixpath.normpath(posixpath.join(folder, unquote(item.get("href", "").split("#")[0])))
            where = f"{path.name}, document {number}"
            try:
                document = _document(number, name, decode_text(path, _member(path, book, name, max_bytes, where)))
            except BadInputError as exc:
                result.skipped.append(str(exc) if str(exc).startswith(where) else f"{where}: {exc}")
                continue
            if document is not None:
                result.documents.append(document)
    return result


def _package_name(path: Path, book: zipfile.ZipFile) -> str:
    container = _xml(path, _member(path, book, "META-INF/container.xml", _PACKAGE_BYTES), "META-INF/container.xml")
    rootfile = next(container.iter("{*}rootfile"), None)
    if rootfile is None or not rootfile.get("full-path"):
        raise bad_file(path, "not a readable EPUB book (its container names no package document)")
    return rootfile.get("full-path")


def _member(path: Path, book: zipfile.ZipFile, name: str, max_bytes: int, where: str | None = None) -> bytes:
    """A member's bytes; BadInputError when it is missing or declares more than `max_bytes` (it
    is not read: a member that expands to gigabytes stays in the zip)."""
    try:
        info = book.getinfo(name)
    except KeyError:
        raise bad_file(path, f"not a readable EPUB book ({name} is missing from it)") from None
    if info.file_size > max_bytes:
        raise over_limit(where or f"{path.name}, {name}", max_bytes)
    try:
        return book.read(info)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError) as exc:
        raise bad_file(path, f"{name} cannot be read from it ({exc})") from None


def _xml(path: Path, data: bytes, what: str):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise bad_file(path, f"not a readable EPUB book ({what}: {' '.join(str(exc).split())})") from None


def _encrypted(book: zipfile.ZipFile) -> bool:
    """Whether the book's documents are encrypted (DRM). Fonts alone may be (obfuscated, as the
    EPUB standard allows), which leaves the text readable."""
    try:
        info = book.getinfo("META-INF/encryption.xml")
    except KeyError:
        return False
    if info.file_size > _PACKAGE_BYTES:
        return True
    listed = book.read(info).decode("utf-8", "replace")
    return any(not re.search(r"\.(?:ttf|otf|woff2?)$", uri, re.I)
               for uri in re.findall(r'CipherReference[^>]*URI\s*=\s*["\']([^"\']+)', listed))


def _metadata(package) -> Book:
    def first(tag: str) -> str | None:
        text = next((" ".join("".join(node.itertext()).split()) for node in package.iter(f"{{*}}{tag}")), "")
        return text or None

    kind = next((meta.get("content", "") for meta in package.iter("{*}meta")
                 if meta.get("name") == "calibre:publication_type"), "")
    if periodical := _PERIODICAL.match(kind):  # calibre writes itself as the creator and publisher of its news
        return Book(outlet=periodical.group(1).strip() or None, author=None, published=iso_date(first("date")))
    return Book(outlet=first("publisher"), author=first("creator"), published=iso_date(first("date")))


def _document(number: int, name: str, page: str) -> Document | None:
    """The document as an article, or None when it is navigation or has no words."""
    from lxml import etree
    from lxml.html import document_fromstring

    try:
        tree = document_fromstring(parseable(page))
    except (etree.ParserError, ValueError):
        return None
    body = tree.find("body")
    if body is None:
        return None
    classes = [(node, (node.get("class") or "").split()) for node in body.iter() if isinstance(node.tag, str)]
    if any(not _MENU_CLASSES.isdisjoint(names) for _, names in classes):
        return None
    url = None
    for bar in (node for node, names in classes if _BAR_CLASS in names):
        url = url or next((web_address(link.get("href")) for link in bar.iter("a") if web_address(link.get("href"))),
                          None)
        if bar.getparent() is not None:
            bar.getparent().remove(bar)  # its tail is the bar's " | " at most
    words = len(body.text_content().split())
    linked = sum(len(link.text_content().split()) for link in body.iter("a"))
    if not words or linked > _LINKED_SHARE * words:
        return None
    heading = tree.findtext(".//title") or next(
        (node.text_content() for node in body.iter("h1", "h2", "h3") if node.text_content().strip()), "")
    return Document(number=number, name=name, html=etree.tostring(body, encoding="unicode", method="html"),
                    title=" ".join(heading.split()) or None, url=url)
