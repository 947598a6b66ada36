"""Pick the passages for a question.

Three rankings of the chunks are fused by reciprocal rank: dense (MiniLM cosine), keyword (BM25)
and, when the question names a time ("in May 2025", "that February"), the chunks whose text or
article dates match it. Chunks that cannot be about what the question pins down (its place, its
year) are ruled out. Near-duplicate passages (overlapping chunks say the same thing) are skipped
so that a second article gets its place.
"""

from __future__ import annotations

import difflib
import re
from typing import Callable

from rag.embedding import Embedder
from rag.index import StoredIndex
from rag.citations import name_key
from rag.schema import Chunk, Hit

# Words that point back at an earlier turn ("what did they agree on?", "and after that?").
_BACK_REFERENCES = re.compile(
    r"^(and|also|what about|how about|so|then)\b|\b(it|its|they|them|their|he|she|his|her|this|that|"
    r"those|these|there|the talks|the meeting|the two)\b",
    re.IGNORECASE,
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# "May" is a month only when capitalised or next to a number ("in may 2025"): "may" is also a verb.
_MONTH = re.compile(
    r"\b(?:(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)|May|(?i:may)(?=\s+\d))\b"
)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
# "in Astana", "at Istanbul": the place a question is about.
_PLACE = re.compile(r"\b(?:in|at)\s+([A-Z][^\W\d_]+)")

# Reciprocal rank fusion's usual constant (Cormack et al. 2009): ranks matter, raw scores don't,
# so BM25 and cosine need no calibration against each other.
RRF_K = 60
# How deep each ranking is read before fusing.
CANDIDATES = 20
# How many fused candidates the optional stronger model re-ranks (~0.1 s each on 2 cores).
RESCORED = 10
# Two passages closer than this (cosine) say nearly the same thing: keep the better one only.
NEAR_DUPLICATE = 0.9


def standalone_query(question: str, history: list[dict] | None) -> str:
    """The text to retrieve with: a follow-up question borrows the previous question's words.

    A rule, not a model call: prepending the last user question costs nothing and keeps the
    subject ("the Istanbul talks") that a follow-up like "and what did Russia demand?" leaves out.
    """
    previous = [t["content"] for t in history or [] if t.get("role") == "user" and isinstance(t.get("content"), str)]
    if previous and (len(question.split()) <= 6 or _BACK_REFERENCES.search(question)):
        return f"{previous[-1]} {question}"
    return question


def respell(query: str, vocabulary: set[str], known: set[str] = frozenset()) -> str:
    """Replace words the articles never use by the closest word they do ("istambul" -> "istanbul",
    "prisners" -> "prisoners"): misspelt questions otherwise miss both rankings. Words in `known`
    (ordinary English: "many" must not become "may"), short words and words with no close match
    are left alone."""

    def fix(match: re.Match) -> str:
        word = match.group()
        if len(word) < 4 or word.lower() in vocabulary or word.lower() in known:
            return word
        close = difflib.get_close_matches(word.lower(), vocabulary, n=1, cutoff=0.8)
        return close[0] if close else word

    return re.sub(r"[^\W\d_]+", fix, query)


def time_terms(text: str) -> set[str]:
    """The months ("may") and years ("2025") a text names."""
    return {m.group()[:3].lower() for m in _MONTH.finditer(text)} | set(_YEAR.findall(text))


def retrieve(question: str, index: StoredIndex, embedder: Embedder, top_k: int,
             rescorer: Embedder | None = None, history: list[dict] | None = None) -> list[Hit]:
    """The top_k passages for `question` (a follow-up searched as its standalone query), best
    first; each Hit's score is its cosine similarity to the query.

    Measured on the seeds: MiniLM alone ranks "Among the few tangible outcomes of the Istanbul
    talks..." 5th for "What came out of the May 2025 Istanbul talks?", BM25 alone misses
    paraphrases; fused, the passage that answers is in the top 3 for each of our probe questions.
    """
    query = respell(standalone_query(question, history), index.vocabulary, embedder.known_words)
    position = {chunk.id: i for i, chunk in enumerate(index.chunks)}
    hits = index.search(embedder.embed([query])[0], len(index.chunks))
    dense = [position[hit.chunk.id] for hit in hits]
    similarity = {i: hit.score for i, hit in zip(dense, hits)}
    rankings = [dense[:CANDIDATES], index.keyword_search(query, CANDIDATES)]
    # Only the question as asked sets the time preference: a follow-up inherits the earlier
    # question's subject, not its date ("in May 2025" would favour every chunk of that article).
    if wanted := time_terms(question):
        rankings.append(_time_ranking(wanted, index, dense))
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
    fits = _fits_question(question, index)
    order = [i for i in sorted(fused, key=fused.get, reverse=True) if fits(index.chunks[i])]
    if rescorer is not None:
        order = _rescored(query, order[:RESCORED], index, rescorer) + order[RESCORED:]
    chosen: list[int] = []
    for i in order:
        if len(chosen) == top_k:
            break
        if all(float(index.vector(i) @ index.vector(j)) < NEAR_DUPLICATE for j in chosen):
            chosen.append(i)
    return [Hit(chunk=index.chunks[i], score=similarity[i]) for i in chosen]


def _fits_question(question: str, index: StoredIndex) -> Callable[[Chunk], bool]:
    """A test that is False for a chunk that cannot be about what the question pins down: its
    article never names the place the question asks about ("in Astana") though another article
    does, or it states years (its own, else its article's) and not the one asked for. Without it
    the model answers "How long did the meeting in Astana last?" from a passage on a meeting in
    Istanbul. The question is read once, not per candidate."""
    # Known as written; a chunk's article must hold it even loosely (name_key: "Turkey" is there
    # if "Türkiye" is).
    places = {name_key(place) for place in _PLACE.findall(question)
              if not _MONTH.fullmatch(place) and place.lower() in index.vocabulary}
    asked = set(_YEAR.findall(question))
    dates = index.article_dates()

    def fits(chunk: Chunk) -> bool:
        if not places <= index.names[chunk.source]:
            return False
        if asked:
            stated = set(_YEAR.findall(chunk.text)) or {d[:4] for d in dates.get(chunk.source, [])}
            return not stated or bool(asked & stated)
        return True

    return fits


def _rescored(query: str, candidates: list[int], index: StoredIndex, rescorer: Embedder) -> list[int]:
    """The candidates re-ranked by fusing their order with the stronger model's cosine order."""
    vectors = rescorer.embed([query] + [f"{index.chunks[i].title}\n{index.chunks[i].text}" for i in candidates])
    by_rescorer = [candidates[j] for j in (vectors[1:] @ vectors[0]).argsort()[::-1]]
    fused = {i: 1.0 / (RRF_K + rank + 1) for rank, i in enumerate(candidates)}
    for rank, i in enumerate(by_rescorer):
        fused[i] += 1.0 / (RRF_K + rank + 1)
    return sorted(candidates, key=fused.get, reverse=True)


def _time_ranking(wanted: set[str], index: StoredIndex, dense_order: list[int]) -> list[int]:
    """Chunks that match the question's months and years, most matches first, then by dense
    order. A chunk matches through its own words or its article's stated dates ("2025-05-15"
    gives "2025" and "may")."""
    dates = index.article_dates()
    matches = {}
    for i in dense_order[:CANDIDATES]:
        chunk = index.chunks[i]
        stated = time_terms(chunk.text)
        for date in dates.get(chunk.source, []):
            year, _, rest = date.partition("-")
            stated |= {year} | ({_MONTHS[int(rest[:2]) - 1]} if rest[:2].isdigit() else set())
        if count := len(wanted & stated):
            matches[i] = count
    return sorted(matches, key=lambda i: -matches[i])
