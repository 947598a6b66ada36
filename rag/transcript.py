"""An answer kept as Markdown, with its sources as references: what the web app's "Download
conversation" saves and `rag ask --markdown` prints, to paste into notes or keep beside them.

Everything from an article or from the model is escaped (markdown_text): a link or a picture an
article holds stays its words in the file, never a live link or an image fetched when the file
is opened.
"""

from __future__ import annotations

import re

from rag.schema import Answer


def answer_markdown(question: str, answer: Answer, scope: str = "") -> str:
    """The question as a heading (with the articles it was kept to, `scope`, as
    rag.Scope.described says it), the answer with its [n] markers, and each source as a
    reference names it (Citation.reference) with the sentences its claims rest on, quoted."""
    among = f" {markdown_text(f'(among the articles {scope})')}" if scope else ""
    parts = [f"## {markdown_text(question)}{among}", markdown_text(answer.text, markers=True)]
    for c in answer.citations:
        quoted = "".join(f"\n    > “{markdown_text(sentence)}”" for sentence in c.highlighted())
        parts.append(f"[{c.n}] {markdown_text(c.reference())}{quoted}")
    if answer.unsupported:
        parts.append(f"Left out, no passage supports it: {markdown_text(' '.join(answer.unsupported))}")
    return "\n\n".join(parts)


def markdown_text(text: str, markers: bool = False) -> str:
    """`text` shown as written in Markdown: each character that makes markup (a tag's or an
    entity's too) escaped with a backslash, as CommonMark reads it; its whitespace folded, but
    with `markers` (an answer's text, whose lines may be a list), which keeps its citation
    markers as [n] (not before a "(" or "[", which would make them a link)."""
    escaped = re.sub(r"([\\`*_\[\]|~<>!()&])", r"\\\1", text if markers else " ".join(text.split()))
    escaped = re.sub(r"(?m)^(\s*)#", r"\1\\#", escaped)  # a heading only at a line's start ("file#2" stays)
    if markers:
        escaped = re.sub(r"\\\[(\d+)\\\](?!\\[(\[])", r"[\1]", escaped)
    return escaped
