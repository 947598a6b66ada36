"""Pick the passages for a question.

Three rankings of the chunks are fused by reciprocal rank: dense (MiniLM cosine), keyword (BM25)
and, when the question names a time ("in May 2025", "that February"), the chunks whose text or
article dates match it. Chunks that cannot be about what the question pins down (rag.query's
place and year test) are ruled out. Near-duplicate passages (overlapping chunks say the same
thing) are skipped so that a second article gets its place.
"""

from __future__ import annotations

from rag.embedding import Embedder
from rag.index import StoredIndex
from rag.query import article_time_terms, fits_question, respell, standalone_query, time_terms
from rag.schema import Hit

# Reciprocal rank fusion's usual constant (Cormack et al. 2009): ranks matter, raw scores don't,
# so BM25 and cosine need no calibration against each other.
RRF_K = 60
# How deep each ranking is read before fusing.
CANDIDATES = 20
# How many fused candidates the optional stronger model re-ranks (~0.1 s each on 2 cores).
RESCORED = 10
# Two passages closer than this (cosine) say nearly the same thing: keep the better one only.
NEAR_DUPLICATE = 0.9


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
    fits = fits_question(question, index.vocabulary, index.names, index.articles)
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
    matches = {}
    for i in dense_order[:CANDIDATES]:
        chunk = index.chunks[i]
        article = index.articles.get(chunk.source)
        stated = time_terms(chunk.text) | (article_time_terms(article) if article else set())
        if count := len(wanted & stated):
            matches[i] = count
    return sorted(matches, key=lambda i: -matches[i])
