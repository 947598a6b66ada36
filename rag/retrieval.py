"""Pick the passages for a question.

Rankings of the chunks are fused by reciprocal rank: dense (MiniLM cosine, and nomic's beside it
when embedding_model joins the two: rag.embedding.Joined), keyword (BM25) and, when the question
names a time ("in May 2025", "that February", "last month"), the chunks whose text or article
dates match it; when it writes a name of two words or more, the candidates that write it whole. Chunks that cannot
be about what the question pins down (rag.query's place and year test) are ruled out. A
question for the latest news gets the same passages, the newest article's first. Near-duplicate
passages (overlapping chunks say the same thing) are skipped so that a second article gets its
place.
"""

from __future__ import annotations

from datetime import date
from itertools import zip_longest

from rag.embedding import Embedder, Joined, passage_text
from rag.index import StoredIndex
from rag.query import (article_time_terms, asked_names, asked_times, asks_latest, fits_question, question_parts,
                       standalone_query, time_terms, without_recency)
from rag.schema import Chunk, Hit
from rag.scope import Scope
from rag.spelling import respell
from rag.text import folded

# Reciprocal rank fusion's usual constant (Cormack et al. 2009): ranks matter, raw scores don't,
# so BM25 and cosine need no calibration against each other.
RRF_K = 60
# How deep each ranking is read before fusing.
CANDIDATES = 20
# How many fused candidates the optional stronger model re-ranks (~0.1 s each on 2 cores).
RESCORED = 10
# Two passages closer than this (cosine) say nearly the same thing: keep the better one only.
NEAR_DUPLICATE = 0.9


def search_text(question: str, history: list[dict] | None, index: StoredIndex, embedder: Embedder | Joined) -> str:
    """What both rankings search with: the standalone question, words of recency left out and
    misspellings respelt to the articles' words (rag.spelling)."""
    return respell(without_recency(standalone_query(question, history)), index.articles_using)


def retrieve(question: str, index: StoredIndex, embedder: Embedder | Joined, top_k: int,
             rescorer: Embedder | None = None, history: list[dict] | None = None, today: date | None = None,
             scope: Scope | None = None) -> list[Hit]:
    """The top_k passages for `question` (a follow-up searched as its standalone query), best
    first; each Hit's score is its cosine similarity to the query. Relative times in the question
    ("last month") are read against `today` (default: the clock's). With a `scope`, only its
    articles' passages are searched (both rankings).

    Measured on the seeds: MiniLM alone ranks "Among the few tangible outcomes of the Istanbul
    talks..." 5th for "What came out of the May 2025 Istanbul talks?", BM25 alone misses
    paraphrases; fused, the passage that answers is in the top 3 for each of our probe questions.
    Only the CANDIDATES best of each ranking are read from the index: the cost of a question
    does not grow with the archive beyond FAISS's and FTS5's own searches.
    """
    query = search_text(question, history, index, embedder)
    query_vector = embedder.embed_query(query)
    # One dense ranking per embedding model (rag.embedding.Joined), the first model's first.
    dense = [[row for row, _ in index.search(_only(query_vector, span), CANDIDATES, scope)] for span in embedder.spans]
    rankings = [dense[0], index.keyword_search(query, CANDIDATES, scope), *dense[1:]]
    chunks = index.chunks(sorted({row for ranking in rankings for row in ranking}))
    # Only the question as asked sets the time preference: a follow-up inherits the earlier
    # question's subject, not its date ("in May 2025" would favour every chunk of that article).
    asked = asked_times(question, today or date.today(), lambda: index.years)
    if asked:
        rankings.append(_time_ranking(asked, index, [row for row in rankings[0] if row in chunks], chunks))
    # Names of two words or more: a one-word name is a keyword like any other, which BM25 ranks.
    if names := [name for name in asked_names(question) if " " in name]:
        rankings.append(_name_ranking(names, rankings, chunks))
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    fits = fits_question(question, asked, index.articles_using, index.sources_naming, index.articles)
    # A passage deleted by a commit since the index was loaded has no row any more: skip it.
    order = [row for row in sorted(fused, key=fused.get, reverse=True) if row in chunks and fits(chunks[row])]
    if rescorer is not None:
        order = _rescored(query, order[:RESCORED], chunks, rescorer) + order[RESCORED:]
    order = _trusted_first(order, chunks, index)
    # Scores and near duplicates are the first model's cosine, the scale every threshold was set on.
    first = slice(*embedder.spans[0])
    vectors = dict(zip(order, index.vectors_of(order)[:, first]))
    chosen: list[int] = []
    for row in order:
        if len(chosen) == top_k:
            break
        if all(float(vectors[row] @ vectors[other]) < NEAR_DUPLICATE for other in chosen):
            chosen.append(row)
    hits = [Hit(chunk=chunks[row], score=float(vectors[row] @ query_vector[first])) for row in chosen]
    return _newest_first(hits, index) if asks_latest(question) else hits


def passages_for(question: str, index: StoredIndex, embedder: Embedder | Joined, top_k: int, gap: float,
                 rescorer: Embedder | None = None, history: list[dict] | None = None,
                 today: date | None = None, scope: Scope | None = None) -> list[Hit]:
    """The passages to show the model for `question`: retrieve's top_k, those within reach of the
    best one (`gap`: within_reach). A question that asks two things (rag.query.question_parts)
    gets each part's, taken in turn, top_k in all: one search for both finds mostly the first
    part's article. Of the six two-part questions of the dev and tuning sets (news tuning
    t028-t030, news dev n039, BBC dev b027-b028; 2026-12-05), the passages shown covered 9 of
    their 22 gold articles, by parts 13; end to end 3 were answered right instead of 1, none
    worse, with one model call (asked as two questions, one after the other: 2 right, two calls).
    A follow-up is searched as one question (rag.query.standalone_query). With a `scope`, only
    its articles are searched (rag.scope)."""
    parts = question_parts(question) if not history else [question]
    found = [within_reach(retrieve(part, index, embedder, top_k, rescorer, history, today, scope), gap)
             for part in parts]
    chosen: dict[str, Hit] = {}
    for in_turn in zip_longest(*found):
        for hit in in_turn:
            if hit is not None and len(chosen) < top_k:
                chosen.setdefault(hit.chunk.id, hit)
    return list(chosen.values())


def _only(vector, span: tuple[int, int]):
    """`vector` with zeros outside `span`: searched with, it ranks by that model's cosine alone."""
    if span == (0, len(vector)):
        return vector
    part = vector.copy()
    part[:span[0]] = 0
    part[span[1]:] = 0
    return part


def within_reach(hits: list[Hit], gap: float) -> list[Hit]:
    """The hits worth showing the model: the first, and those whose cosine is within `gap` of the
    best one's, in their order (`gap` 0: all of them).

    A passage far less like the question than the best one rarely holds its answer, and the 1.5B
    model answers from whatever it is shown: measured with gap 0.1 on a SQuAD tuning sample (seed
    1, 100 questions, decline on), 4 more of 50 answerable questions right, one fewer false
    decline, the same declines, and 37% fewer new prompt tokens (446 -> 280); among the passages
    of the five seed articles, all on one subject, it shows nearly all four as before
    (eval/HISTORY.md). Retrieval alone, over the answerable SQuAD questions outside the reported sample:
    the gold paragraph among those shown 93.6% -> 90.9%, with 2.6 passages shown instead of 4.
    """
    best = max((hit.score for hit in hits), default=0.0)
    return [hit for i, hit in enumerate(hits) if i == 0 or gap <= 0 or hit.score >= best - gap]


def _trusted_first(order: list[int], chunks: dict[int, Chunk], index: StoredIndex) -> list[int]:
    """`order` with the passages of articles that speak to the assistant (rag.injection: "ignore
    all previous instructions", hidden orders) moved after all others. Such an article is an
    injection attempt; its orders are left out of the prompt, but its news may be planted too,
    and it changed 1 of 12 dev answers by taking a place among the passages shown ("Russia" for
    "Astana", eval/injection.py). It is still shown when nothing else fits the question. No seed
    article nor SQuAD paragraph is flagged (eval/injection.py --check), so their answers are unchanged."""
    def flagged(row: int) -> bool:
        article = index.articles.get(chunks[row].source)
        return bool(article and article.addresses_assistant)
    return sorted(order, key=flagged)  # stable: relevance order within each group


def _rescored(query: str, candidates: list[int], chunks: dict[int, Chunk], rescorer: Embedder) -> list[int]:
    """The candidates re-ranked by fusing their order with the stronger model's cosine order."""
    passages = rescorer.embed([passage_text(chunks[row]) for row in candidates])
    by_rescorer = [candidates[j] for j in (passages @ rescorer.embed_query(query)).argsort()[::-1]]
    fused = {row: 1.0 / (RRF_K + rank + 1) for rank, row in enumerate(candidates)}
    for rank, row in enumerate(by_rescorer):
        fused[row] += 1.0 / (RRF_K + rank + 1)
    return sorted(candidates, key=fused.get, reverse=True)


def _newest_first(hits: list[Hit], index: StoredIndex) -> list[Hit]:
    """The passages found for a question after the latest news, the newest article's first (its
    publication date, else the latest date it states; undated ones last). Relevance chose them;
    a recency ranking fused with the others would instead bring in new but unrelated articles."""
    def newest(hit: Hit) -> str:
        article = index.articles.get(hit.chunk.source)
        return (article.date() if article else None) or ""
    return sorted(hits, key=newest, reverse=True)  # stable: relevance order among equal dates


def _time_ranking(wanted: set[str], index: StoredIndex, dense_order: list[int], chunks: dict[int, Chunk]) -> list[int]:
    """Dense candidates that match the question's months and years, most matches first, then by
    dense order. A chunk matches through its own words or its article's stated dates
    ("2025-05-15" gives "2025" and "may")."""
    matches = {}
    for row in dense_order:
        chunk = chunks[row]
        article = index.articles.get(chunk.source)
        stated = time_terms(chunk.text) | (article_time_terms(article) if article else set())
        if count := len(wanted & stated):
            matches[row] = count
    return sorted(matches, key=lambda row: -matches[row])


def _name_ranking(names: list[str], rankings: list[list[int]], chunks: dict[int, Chunk]) -> list[int]:
    """The candidates that write the question's names whole ("Australian Food", "Grocery
    Council"), most names first, then by their best rank in the other rankings.

    Dense search reads a name as its words' meanings: for "Who heads the Australian Food and
    Grocery Council?" over 350 news articles it ranked passages on food, councils and heads of
    things first and the one that names the council not among its 20; BM25 put it first, and
    fusion outvoted it (5th, not shown; news tuning set t008). Measured with
    eval/retrieval_probe.py (2026-12-05), gold article's R@1 / R@4 / MRR: news tuning set 0.818 /
    0.931 / 0.923 -> 0.851 / 0.964 / 0.950, news dev split 0.818 / 0.955 / 0.932 -> 0.864 / 0.955
    / 0.955, seed dev split unchanged, all 1,213 answerable SQuAD questions 0.776 / 0.938 / 0.849
    -> 0.777 / 0.941 / 0.851 (30 ranked higher, 17 lower). One-word names too lost SQuAD R@1
    (0.771) and, end to end, two right answers of the reported SQuAD sample; names joined by
    "and" ("Putin and Erdogan") put first the passages that write the pair, seed dev R@1 0.833 ->
    0.748. End to end (eval/HISTORY.md, session 6): news tuning t008 right, nothing worse there;
    test split and news set unchanged; SQuAD sample one answer better, one worse, one wrong answer
    now declined.
    """
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            best[row] = min(rank, best.get(row, rank))
    wanted = [folded(name) for name in names]
    matches = {}
    for row in best:
        if row in chunks:
            text = folded(f"{chunks[row].title}\n{chunks[row].text}")
            if count := sum(name in text for name in wanted):
                matches[row] = count
    return sorted(matches, key=lambda row: (-matches[row], best[row]))
