"""Pick the passages most similar to the question."""

from __future__ import annotations

import re

from rag.embedding import Embedder
from rag.index import StoredIndex
from rag.schema import Hit

# Words that point back at an earlier turn ("what did they agree on?", "and after that?").
_BACK_REFERENCES = re.compile(
    r"^(and|also|what about|how about|so|then)\b|\b(it|its|they|them|their|he|she|his|her|this|that|"
    r"those|these|there|the talks|the meeting|the two)\b",
    re.IGNORECASE,
)


def standalone_query(question: str, history: list[dict] | None) -> str:
    """The text to retrieve with: a follow-up question borrows the previous question's words.

    A rule, not a model call: prepending the last user question costs nothing and keeps the
    subject ("the Istanbul talks") that a follow-up like "and what did Russia demand?" leaves out.
    """
    previous = [t["content"] for t in history or [] if t.get("role") == "user" and isinstance(t.get("content"), str)]
    if previous and (len(question.split()) <= 6 or _BACK_REFERENCES.search(question)):
        return f"{previous[-1]} {question}"
    return question


def retrieve(query: str, index: StoredIndex, embedder: Embedder, top_k: int) -> list[Hit]:
    return index.search(embedder.embed([query])[0], top_k)
