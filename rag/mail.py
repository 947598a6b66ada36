"""E-mail: newsletters, news as many people receive it, saved one message to a file (.eml: what a
mail program writes when a message is dragged to a folder or saved) or kept as a mailbox (.mbox:
Thunderbird's folders, Gmail's Takeout, Apple Mail's export: rag.loading.file_type).

A message is read as its reader sees it: its HTML part (rag.loading.html_text: the hidden
"preheader", scripts and comments left out, and read for orders to a model), else its plain
text; attachments are not read. Its subject is the title, its sender's name the outlet (else the
sender's site), its Date header the publication date (a newsletter is dated when it is sent, unlike
a clipping), and its Archived-At header (RFC 5064), when the sender writes one, its web address.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

from rag.errors import BadInputError
from rag.loading import decode_text, entry_article, html_text, iso_date, require_within
from rag.schema import Article

# A line of an mbox that starts a message: "From " at a line's start, the rule of Python's mailbox
# module and of the mail programs that write them. A line of a message that starts so is written
# with a ">" before it (">From June, ..."), which reading takes away again.
_MBOX_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_MBOX_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


@dataclass
class Letter:
    """What a message holds for an article: its text as a reader sees it, what no reader sees
    (read for orders to a model), and its metadata."""
    body: str
    unseen: str
    title: str | None
    outlet: str | None
    published: str | None
    url: str | None
    message_id: str | None


def read_message(path: Path, data: bytes, where: str) -> Letter:
    """The letter of one message's bytes; BadInputError (saying `where`) when it has no text.

    Parsed with the email package's compat32 policy, as MHTML is (rag.loading): its default
    policy parses every header it is asked for, 11 ms a message, two thirds of reading a mailbox
    of 2,000 newsletters with a picture each (208 MB: 26 s)."""
    message = email.message_from_bytes(data)
    part = _text_part(message)
    if part is None:
        raise BadInputError(f"{where}: no text in it (not an e-mail, or only attachments)")
    try:
        content = _content(path, part)
    except BadInputError as exc:  # a text part of binary bytes, say: named by its message, not only its file
        raise BadInputError(f"{where}: its text cannot be read ({str(exc).removeprefix(f'{path.name}: ')})") from None
    body, unseen = html_text(content) if part.get_content_subtype() == "html" else (content, "")
    name, address = parseaddr(_header(message, "from"))
    archived = _header(message, "archived-at").strip().strip("<>")
    return Letter(body=body, unseen=unseen,
                  title=" ".join(_header(message, "subject").split()) or None,
                  outlet=" ".join(name.split()) or address.rpartition("@")[2].lower() or None,
                  published=iso_date(_header(message, "date")), url=archived or None,
                  message_id=_header(message, "message-id").strip() or None)


def letter_article(path: Path, letter: Letter, where: str, max_bytes: int, source: str | None = None,
                   origin: str | None = None) -> Article:
    """The Article of a message: a file's (`source` None) or a mailbox's (`source` "file#key")."""
    require_within(letter.body, max_bytes, where)
    return entry_article(path, source, origin, letter.body, where, unseen=letter.unseen, title=letter.title,
                         published=letter.published, url=letter.url, outlet=letter.outlet)


def mbox_messages(data: bytes) -> Iterator[bytes] | None:
    """The messages of an mbox mailbox one by one (a mailbox runs to hundreds of megabytes), each
    without its "From " line; None when `data` is not one (an mbox starts with a "From " line)."""
    if not data.startswith(b"From "):
        return None
    separators = list(_MBOX_SEPARATOR.finditer(data))
    ends = [separator.start() for separator in separators[1:]] + [len(data)]
    return (_MBOX_QUOTED.sub(rb"\1", data[separator.end():end]) for separator, end in zip(separators, ends))


def _text_part(message: Message) -> Message | None:
    """The part a mail program shows: the first HTML one, else the first plain text one, not an
    attachment."""
    parts = [part for part in message.walk() if not part.is_multipart()
             and part.get_content_disposition() != "attachment" and part.get_content_maintype() == "text"]
    return next((part for part in parts if part.get_content_subtype() == "html"),
                next((part for part in parts if part.get_content_subtype() == "plain"), None))


def _content(path: Path, part: Message) -> str:
    """A text part's text, its transfer encoding undone, in its charset; decoded as a text file is
    (rag.loading.decode_text) when it names none, or one Python does not know, or a wrong one."""
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    try:
        if charset:
            return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        pass
    return decode_text(path, payload) if payload.strip() else ""


def _header(message: Message, name: str) -> str:
    """A header's text, its encoded words ("=?utf-8?q?...?=") decoded; "" when it is missing or so
    malformed that it cannot be read."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeDecodeError, ValueError, HeaderParseError):  # a charset unknown, a bad word
        return str(value)
