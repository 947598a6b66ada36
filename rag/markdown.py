"""The words a reader sees of a Markdown article, as a clipping tool (the Obsidian Web Clipper,
MarkDownload) or a notes app writes one: each paragraph, heading, list item and table row as a
plain line, without link addresses, pictures, emphasis marks or HTML tags.

Read raw, a clipped article's passages were half web addresses: "[Rustem Umerov](https://...)"
costs the generator some 20 prompt tokens for two words, and an address in a passage is one the
model can copy into its answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from rag.loading import html_text

# CommonMark, and the GitHub tables and strikethrough that clipping tools write.
_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Beyond CommonMark: footnote marks ("[^1]", "[^1]: "), and Obsidian's own syntax, which its Web
# Clipper and its users write: embeds ("![[photo.jpg]]"), links to notes ("[[Kyiv]]",
# "[[Kyiv|the capital]]", "[[Kyiv#History]]"), highlights ("==the deal=="), callouts ("[!note]").
# Each is one bounded run with nothing to try again: "![[" 30,000 times on a line took half a
# minute with a link's page, heading and alias matched as runs side by side.
_EXTENSIONS = [
    (re.compile(r"\[\^[^\[\]\s]{1,20}\](?::[ \t]*)?|!\[\[[^\[\]\n]{0,300}\]\]|^\[![\w-]{1,30}\][+-]?[ \t]*"), ""),
    (re.compile(r"\[\[([^\[\]\n]{1,300})\]\]"), lambda link: _shown_name(link[1])),
    (re.compile(r"==(?=\S)([^=\n]{1,300})(?<=\S)=="), r"\1"),
]


def _shown_name(link: str) -> str:
    """What Obsidian shows of a link to a note: its alias, else the note's name without the heading."""
    page, _, alias = link.partition("|")
    return alias or page.split("#")[0]


@dataclass
class Rendered:
    text: str  # one line per block, a blank line between blocks
    # What a reader of the text never sees (pictures' descriptions, link titles, the inside of
    # HTML tags, scripts and comments) and the lines that are nothing but links (menus, share
    # buttons, related stories): left out of the text, but read for orders to a model (rag.injection).
    unseen: str


def plain_text(markdown: str) -> Rendered:
    """The text a reader of `markdown` sees, block by block, and what it does not see."""
    blocks, unseen, prefix, row, in_cell = [], [], "", [], False
    for token in _PARSER.parse(markdown):
        if token.type == "list_item_open":
            prefix = f"{token.info}{token.markup} " if token.info else "- "
        elif token.type in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = token.type.endswith("_open")
        elif token.type == "inline":
            text, own_words = _inline(token.children or [], unseen)
            if in_cell:
                row.append(text)
                continue
            if own_words:
                blocks.append(prefix + text)
            else:  # nothing but links and pictures: a menu, share buttons, related stories
                unseen.append(text)
            prefix = ""
        elif token.type == "tr_close":
            blocks.append(" | ".join(cell for cell in row if cell.strip()))
            row = []
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content)
        elif token.type == "html_block":
            visible, hidden = html_text(token.content)
            blocks.append(visible)
            unseen.append(hidden)
    folded = ("\n".join(" ".join(line.split()) for line in block.splitlines() if line.strip()) for block in blocks)
    text = "\n\n".join(block for block in folded if block)
    return Rendered(text=text + "\n" if text else "", unseen="\n\n".join(filter(None, unseen)))


def _inline(children, unseen: list[str]) -> tuple[str, bool]:
    """An inline run's plain text, and whether any of its words stand outside a link."""
    parts, own_words, in_link = [], False, 0
    for child in children:
        if child.type == "link_open":
            in_link += 1
            unseen.append(child.attrGet("title") or "")
        elif child.type == "link_close":
            in_link -= 1
        elif child.type in ("text", "code_inline"):
            content = child.content
            for pattern, replacement in _EXTENSIONS:
                content = pattern.sub(replacement, content)
            parts.append(content)
            own_words |= not in_link and any(c.isalnum() for c in content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            unseen.append(" ".join(filter(None, [child.content, child.attrGet("title")])))
        elif child.type == "html_inline":
            unseen.append(child.content)
    return "".join(parts), own_words
