"""Word documents (.docx): an article a colleague sent, a press release, a story kept as Word keeps
it; read with python-docx.

Its paragraphs and table rows, in the document's order, are its lines; text Word hides (its
"hidden" font) is no text a reader sees, so it is read for orders to a model only, as a web
page's hidden elements are. Its title is the document's own (its properties' title, else its
first paragraph styled Title or Heading 1), its author the properties' author. Headers,
footers, comments and tracked deletions are not read: they are not the article.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rag.loading import bad_file


@dataclass
class WordText:
    text: str
    unseen: str
    title: str | None
    author: str | None


def read_word(path: Path, data: bytes, max_bytes: int) -> WordText:
    """The text of a .docx file; BadInputError when it is not one (an old .doc renamed, a damaged
    zip, a password-protected file) or its parts would expand beyond `max_bytes` (python-docx reads
    them all, pictures too, each no further than it declares)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as parts:
            expanded = sum(info.file_size for info in parts.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise bad_file(path, f"not a readable Word document (.docx) ({type(exc).__name__}: {exc}); an old .doc "
                             "can be saved again as .docx from Word") from None
    if expanded > max_bytes:
        raise bad_file(path, f"its parts expand to {expanded:,} bytes, over the {max_bytes:,}-byte limit "
                             "(setting max_archive_bytes)")
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise bad_file(path, f"not a readable Word document (.docx) ({type(exc).__name__}: {exc}); a password-"
                             "protected one, or an old .doc, can be saved again as .docx from Word") from None
    except Exception as exc:  # noqa: BLE001 - lxml and python-docx raise what a damaged part makes them meet
        raise bad_file(path, f"not a readable Word document (.docx) ({type(exc).__name__}: {exc})") from None
    lines, unseen, title = [], [], None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                # A merged cell is the same object at each place it spans in one `row.cells`: read once.
                cells = [" ".join(_visible(p, unseen) for p in cell.paragraphs) for cell in dict.fromkeys(row.cells)]
                lines.append(" | ".join(cell for cell in cells if cell.strip()))
            continue
        line = _visible(block, unseen)
        lines.append(line)
        style = (block.style.name if block.style is not None else "") or ""
        if title is None and line.strip() and style in ("Title", "Heading 1"):
            title = line
    properties = document.core_properties
    return WordText(text="\n\n".join(line for line in lines if line.strip()), unseen="\n".join(unseen),
                    title=" ".join((properties.title or "").split()) or title,
                    author=" ".join((properties.author or "").split()) or None)


def _visible(paragraph, unseen: list[str]) -> str:
    """The paragraph's text, in order, without its hidden runs, which go to `unseen`."""
    from docx.text.hyperlink import Hyperlink

    shown = []
    for item in paragraph.iter_inner_content():
        for run in item.runs if isinstance(item, Hyperlink) else [item]:
            (unseen if run.font.hidden else shown).append(run.text)
    return "".join(shown)
