"""Cut each retrieved passage down to the sentences that bear on the question.

On 2 CPU cores the model reads the prompt at ~200 tokens/s, so every sentence shown costs time
before the first word appears. A sentence is kept when it is among the closest to the question
(cosine, the same embedder as retrieval) or shares its rarer words; a kept sentence that opens by
pointing back ("This", "They", "The agreement") brings the sentence before it, which it needs to
make sense. Kept sentences stay in article order; a gap is shown as "…".
"""

from __future__ import annotations

import re

import numpy as np

from rag.chunking import split_sentences
from rag.citations import content_stems
from rag.embedding import Embedder
from rag.schema import Hit

_POINTS_BACK = re.compile(
    r"^(this|that|these|those|it|its|they|their|them|he|she|his|her|such|both|the (agreement|move|meeting|talks|decision|deal))\b",
    re.IGNORECASE,
)


def select_passages(question: str, hits: list[Hit], embedder: Embedder, sentences_per_passage: int) -> list[str]:
    """The text to show for each hit: its best sentences (all of it when 0 or it is short)."""
    # Headings ("What the talks achieved") often echo a question's words but state nothing.
    spans = [[(s, e) for s, e in split_sentences(hit.chunk.text, 0, len(hit.chunk.text)) if not _is_heading(hit.chunk.text[s:e])]
             for hit in hits]
    if sentences_per_passage <= 0 or not all(spans):
        return [" ".join(hit.chunk.text.split()) for hit in hits]
    texts = [hit.chunk.text[s:e] for hit, chunk_spans in zip(hits, spans) for s, e in chunk_spans]
    vectors = embedder.embed([question, *texts])
    similarity = iter(vectors[1:] @ vectors[0])
    question_words = content_stems(question)
    passages = []
    for hit, chunk_spans in zip(hits, spans):
        sentences = [hit.chunk.text[s:e] for s, e in chunk_spans]
        scores = np.array([next(similarity) for _ in sentences])
        overlap = np.array([len(question_words & content_stems(s)) for s in sentences])
        keep = set(np.argsort(-scores)[:sentences_per_passage]) | {int(np.argmax(overlap))}
        keep |= {i - 1 for i in keep if i > 0 and _POINTS_BACK.match(sentences[i])}
        passages.append(_join(sentences, sorted(keep)))
    return passages


def _is_heading(sentence: str) -> bool:
    return not sentence.rstrip("\"”’)").endswith((".", "!", "?", ":")) and len(sentence.split()) < 15


def _join(sentences: list[str], keep: list[int]) -> str:
    parts, previous = [], None
    for i in keep:
        if previous is not None and i != previous + 1:
            parts.append("…")
        parts.append(" ".join(sentences[i].split()))
        previous = i
    if keep and keep[0] > 0:
        parts.insert(0, "…")
    return " ".join(parts)
