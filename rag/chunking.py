"""Cut an article into overlapping, sentence-aligned passages (`Chunk`s) for embedding.

Chunks are packed from whole sentences and never reach across page furniture: the article's
spans are grouped into regions (spans with only whitespace between them) and each region is
chunked on its own. So a chunk's text is exactly the article's text[start:end].
"""

from __future__ import annotations

import hashlib
from itertools import accumulate
from typing import Callable

from rag.schema import Article, Chunk
from rag.text import split_sentences

__all__ = ["chunk_article"]


def chunk_article(article: Article, count_tokens: Callable[[str], int], max_tokens: int, overlap: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most max_tokens (a longer sentence is a chunk on its
    own, and a heading always has company: the embedder truncates what is too long); each chunk
    after the first in a region starts with the last sentences of the previous one, up to
    `overlap` tokens."""
    chunks = []
    for region in _regions(article):
        units = _units(article, region)
        counts = [count_tokens(article.text[s:e]) for s, e in units]
        for first, last in _pack(units, counts, article, max_tokens, overlap):
            start, end = units[first][0], units[last - 1][1]
            chunks.append(Chunk(
                id=_chunk_id(article, start, end),
                source=article.source,
                title=article.title,
                text=article.text[start:end],
                start=start,
                end=end,
                position=len(chunks),
                published=article.published,
            ))
    return chunks


def _regions(article: Article) -> list[list[tuple[int, int]]]:
    """Runs of spans with nothing visible between them (furniture in between splits a run)."""
    regions: list[list[tuple[int, int]]] = []
    for span in sorted(article.spans):
        if regions and not article.text[regions[-1][-1][1]:span[0]].strip():
            regions[-1].append(span)
        else:
            regions.append([span])
    return regions


def _units(article: Article, region: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What chunks are packed from: the region's sentences."""
    return split_sentences(article.text, region[0][0], region[-1][1])


def _pack(units: list[tuple[int, int]], counts: list[int], article: Article,
          max_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """(first, last) unit index ranges, last exclusive.

    Token counts of a run are summed from its sentences: for tokenizers that split on whitespace
    first (WordPiece, BPE) that equals counting the joined text, and each sentence is tokenized once.
    """
    total = [0, *accumulate(counts)]

    def tokens(a: int, b: int) -> int:
        return total[b] - total[a]

    ranges, i, n, last = [], 0, len(units), 0  # last: where the previous chunk ended
    while True:
        j = i + 1  # at least one sentence, however long
        while j < n and tokens(i, j + 1) <= max_tokens:
            j += 1
        if j == i + 1 < n and _is_heading(article, units[i]):
            j += 1  # a lone heading takes its first sentence along, even past max_tokens
        elif max(i + 1, last + 1) < j < n and _is_heading(article, units[j - 1]):
            # A heading that would close a chunk belongs with the paragraph opening the next; but
            # not when that leaves no new sentence: the chunk would lie inside the one before,
            # the same passage twice (found by fuzzing).
            j -= 1
        ranges.append((i, j))
        last = j
        if j == n:
            return ranges
        # Back up over whole sentences that fit in the overlap and still leave room for the next
        # new sentence, always moving forward at least one sentence.
        k = j
        while k - 1 > i and tokens(k - 1, j) <= overlap and tokens(k - 1, j + 1) <= max_tokens:
            k -= 1
        i = k


def _is_heading(article: Article, unit: tuple[int, int]) -> bool:
    """A line without a sentence stop: a heading (or a line of hard-wrapped text)."""
    return article.text[unit[0]:unit[1]][-1:] not in ".!?…\"'”’)"


def _chunk_id(article: Article, start: int, end: int) -> str:
    # The content hash makes an edited file's chunks new; the file name keeps two copies of the
    # same article in different files apart.
    key = f"{article.source}\0{article.content_hash}\0{start}\0{end}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
