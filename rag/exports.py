"""News database exports: a search's results delivered as one Word document, RTF, PDF or text
file, many articles in it, as LexisNexis and Factiva deliver them to the universities and
newsrooms that keep archives with them.

- Nexis Uni (a Word document, the usual choice, RTF, PDF or text): each article its headline, outlet and
  date lines, then labelled lines ("Section:", "Length:", "Byline:"), a line "Body" and the
  text, then an optional "Classification" block and "Load-Date:", and a line "End of Document".
  The first article may follow a cover page (the search, the job number, the list of titles).
- LexisNexis Academic (text): each article begins "3 of 120 DOCUMENTS", then its outlet, date
  and edition lines, its headline, labelled lines in capitals ("BYLINE:", "LENGTH:"), the text,
  then "LOAD-DATE:", "LANGUAGE:" and the copyright.
- Factiva (RTF, PDF): each article its headline, a byline if any, "523 words", the date, a time
  if any, the outlet, its code, the language and the copyright lines, then the text, ending with
  its id ("Document FTCOM00020250516el5g0001x"); a search summary follows the last.

Read as one article, such a file was one passage list under one title and date: a question over
it cited "results.docx", its scope by date saw one date. Each article is cited as "file#n" (its
place in the file, "document n"), with its own title, outlet, date and byline; its labels, cover
page and classification are left out of its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInputError
from rag.loading import entry_article, iso_date, require_within
from rag.schema import Article

# Nexis Uni writes a no-break space after its labels ("Length:\xa0523 words"); \s takes it.
_UNI_END = re.compile(r"^\s*End of Document\s*$", re.MULTILINE)
_UNI_BODY = re.compile(r"^\s*Body\s*$")
_UNI_AFTER_BODY = re.compile(r"^\s*(?:Classification\s*$|Load-Date:\s)")
_ACADEMIC_START = re.compile(r"^\s*\d+ of \d+ DOCUMENTS\s*$", re.MULTILINE)
_ACADEMIC_AFTER_BODY = re.compile(r"^\s*(?:LOAD-DATE|LANGUAGE|PUBLICATION-TYPE|JOURNAL-CODE):\s")
# Each writes an article's length in words: "Length:\xa0523 words", "LENGTH: 1,204 words", "523 words".
_LENGTH = re.compile(r"^\s*length:\s*\d[\d,]* words\s*$", re.MULTILINE | re.IGNORECASE)
_WORDS = re.compile(r"^\s*\d[\d,]* words\s*$", re.MULTILINE)
# Factiva ends an article with its id: "Document FTCOM00020250516el5g0001x".
_FACTIVA_END = re.compile(r"^\s*Document [A-Za-z0-9]{16,}\s*$", re.MULTILINE)
# A labelled line of the header: "Byline: Andrew Sparrow", "LENGTH: 355 words", "Section: World; Pg. 8".
_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z-]*(?: [A-Za-z]+)?):\s*(.*)$")
# A date as the header writes it: "May 16, 2025 Friday", "16 May 2025", "January 11, 2010 Monday".
_DATE = re.compile(r"\b(?:[A-Z][a-z]+ \d{1,2}, \d{4}|\d{1,2} [A-Z][a-z]+ \d{4})\b")


@dataclass
class _Document:
    """One article of an export, as its header names it."""

    title: str | None
    outlet: str | None
    published: str | None  # ISO date
    author: str | None
    body: list[str]  # the lines of its text


def export_articles(path: Path, text: str, max_bytes: int) -> tuple[list[Article], list[str]] | None:
    """The articles of a Nexis Uni, LexisNexis Academic or Factiva export whose text (a Word
    document's, an RTF's, a PDF's, a text file's) is `text`, and those skipped with the reason;
    None when it is not one."""
    lengths = _LENGTH.search(text) is not None  # "Length: 523 words": Nexis Uni's and Academic's headers
    if lengths and _UNI_END.search(text) and any(_UNI_BODY.match(line) for line in text.splitlines()):
        documents = [_uni_document(part.splitlines()) for part in _UNI_END.split(text)]
    elif lengths and (starts := list(_ACADEMIC_START.finditer(text))):
        documents = [_academic_document(text[start.end():end].splitlines())
                     for start, end in zip(starts, [s.start() for s in starts[1:]] + [len(text)])]
    elif _FACTIVA_END.search(text) and _WORDS.search(text):
        documents = [_factiva_document(part.splitlines()) for part in _FACTIVA_END.split(text)]
    else:
        return None
    articles, skipped = [], []
    for number, document in enumerate(documents, start=1):
        where = f"{path.name}, document {number}"
        if document is None:  # no text in it; after the last article, what ends the file (a search summary)
            if number < len(documents):
                skipped.append(f"{where}: no article text found in it")
            continue
        body = "\n".join(" ".join(paragraph.split()) for paragraph in _paragraphs(document.body))
        try:
            require_within(body, max_bytes, where)
            articles.append(entry_article(path, f"{path.name}#{number}", f"document {number}", body, where,
                                          title=document.title, published=document.published,
                                          outlet=document.outlet, author=document.author))
        except BadInputError as exc:
            skipped.append(str(exc))
    return (articles, skipped) if articles else None


def _uni_document(lines: list[str]) -> _Document | None:
    """A Nexis Uni article from its lines (what comes before its "End of Document"); None for
    what follows the last one. Its headline, outlet and date are the three lines before its
    labels, or before the edition and copyright lines that may follow the date: the date is the
    last line that writes one (a cover page's search dates come before it)."""
    body_at = next((i for i, line in enumerate(lines) if _UNI_BODY.match(line)), None)
    if body_at is None:
        return None
    header = lines[:body_at]
    plain = [line.strip() for line in header if line.strip() and not _label(line) and not _copyright(line)]
    dated = max((i for i, line in enumerate(plain) if _DATE.search(line) and len(line) < 60), default=None)
    body = lines[body_at + 1:]
    end = next((i for i, line in enumerate(body) if _UNI_AFTER_BODY.match(line)), len(body))
    if dated is None:
        title, outlet, published = (plain[0] if plain else None), None, None
    else:
        title, outlet = (plain[dated - 2] if dated >= 2 else None), (plain[dated - 1] if dated >= 1 else None)
        published = iso_date(_DATE.search(plain[dated]).group())
    return _Document(title=title, outlet=outlet, published=published, author=_labelled(header, "byline"),
                     body=body[:end])


def _academic_document(lines: list[str]) -> _Document:
    """A LexisNexis Academic article from its lines after "n of m DOCUMENTS": its outlet, its date
    (with edition lines below it), its headline (the lines just above its first label), labelled
    lines (LENGTH: the header's last), then its text."""
    labels = [i for i, line in enumerate(lines) if _label(line) and not _ACADEMIC_AFTER_BODY.match(line)]
    length = next((i for i in labels if _label(lines[i])[0] == "length"), labels[-1] if labels else -1)
    header = lines[:length + 1]
    plain = [line.strip() for line in header if line.strip() and not _label(line)]
    dated = next((i for i, line in enumerate(plain) if _DATE.search(line) and len(line) < 60), None)
    headline = _labelled(header, "headline") or _block_before(lines, labels[0] if labels else len(lines))
    body = lines[length + 1:]
    end = next((i for i, line in enumerate(body) if _ACADEMIC_AFTER_BODY.match(line)), len(body))
    return _Document(title=headline, outlet=plain[0] if plain and dated != 0 else None,
                     published=iso_date(_DATE.search(plain[dated]).group()) if dated is not None else None,
                     author=_labelled(header, "byline"), body=body[:end])


def _factiva_document(lines: list[str]) -> _Document | None:
    """A Factiva article from its lines (what comes before its "Document ..." id): its headline,
    a byline if any, "523 words", the date, a time if any, the outlet and its code, a page if any,
    the language and the copyright, then its text. None for what follows the last one (the
    search summary), which has no length in words near its top."""
    plain = [line.strip() for line in lines if line.strip()]
    words = next((i for i, line in enumerate(plain[:6]) if _WORDS.match(line)), None)
    if words is None:
        return None
    after = plain[words + 1:]
    dated = bool(after) and _DATE.fullmatch(after[0]) is not None
    place = int(dated) + (1 if len(after) > int(dated) and _TIME.match(after[int(dated)]) else 0)
    outlet = after[place] if len(after) > place else None
    copyright_at = next((i for i, line in enumerate(after[:12]) if _copyright(line)), None)
    if copyright_at is None:  # else the text follows the language: one word ("English"), after the outlet's code
        copyright_at = next((i for i in range(place + 1, min(place + 5, len(after))) if after[i].isalpha()), place + 1)
    byline = " ".join(plain[1:words]) or None
    return _Document(title=plain[0] if words else None, outlet=outlet, published=iso_date(after[0]) if dated else None,
                     author=re.sub(r"^By\s+", "", byline) if byline else None, body=after[copyright_at + 1:])


# A time under a Factiva article's date: "10:03", "10:03 GMT", "5:45 PM".
_TIME = re.compile(r"^\d{1,2}:\d{2}\b")


def _copyright(line: str) -> bool:
    return line.strip().startswith(("©", "(c)", "(C)", "Copyright"))


def _block_before(lines: list[str], at: int) -> str | None:
    """The lines just above line `at`, up to a blank line, joined: a headline wrapped in two."""
    block = []
    for line in reversed(lines[:at]):
        if line.strip():
            block.insert(0, line.strip())
        elif block:
            break
    return " ".join(block) or None


def _labelled(header: list[str], name: str) -> str | None:
    return next((value for line in header if (label := _label(line)) and label[0] == name and (value := label[1])),
                None)


def _label(line: str) -> tuple[str, str] | None:
    """A header line's label (lower-cased) and value: ("byline", "Andrew Sparrow"); None for a
    line that is none: only the exports' own labels count, so a headline with a colon ("Ukraine:
    talks end") stays a headline."""
    match = _LABEL.match(line)
    if not match or match.group(1).lower() not in _LABELS:
        return None
    return match.group(1).lower(), match.group(2).strip()


# The labels of both exports' headers and trailers (Nexis Uni in title case, Academic in capitals).
_LABELS = {"section", "length", "byline", "dateline", "highlight", "headline", "edition", "version", "language",
           "publication-type", "subject", "industry", "geographic", "person", "company", "ticker", "organization",
           "load-date", "journal-code", "graphic", "update", "correction-date", "series", "type", "notes"}


def _paragraphs(lines: list[str]) -> list[str]:
    """The text's paragraphs: a text export wraps them at 80 columns, blank lines between them; a
    Word document's lines are its paragraphs already (no blank line between them)."""
    if not any(not line.strip() for line in lines):
        return [line for line in lines if line.strip()]
    paragraphs, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return paragraphs + ([" ".join(current)] if current else [])
