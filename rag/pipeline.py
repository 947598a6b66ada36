"""The one core behind the CLI, the UI, the HTTP API, the MCP tools and the eval runner:
build_index(), ask(), ask_stream(), and search() for the passages alone.

A question goes: check (and its script against the articles') -> retrieve passages (with the
conversation), keeping those within reach of the best -> (too weak? say so) -> yield them (evidence
first) -> prompt -> the generator scores the decline (calibrated to decline? say so; the 1.5B
only) -> generate, streaming -> check each sentence and its citations -> (it says yes? the
generator hardly preferred "Yes" to "No": decline) -> (the calibration unsure? the model answers
again: most samples say otherwise? decline) -> (a yes/no question declined, by the calibration or
since the model wrote, "Yes" doubted? asked once more for "No, in fact, <what is so>") -> Answer.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from rag.answer import Checked, LiveRenumbering, cited, claim_bodies, finish, overruled
from rag.config import MAX_TOP_K, Settings, load_settings, with_arguments
from rag.consistency import VERIFY_FROM, overrules, resample, tally
from rag.decline import FITTED_FOR, declines, doubts_yes, unanswerable
from rag.embedding import load_embedder
from rag.errors import BadInputError, IncompleteAnswerError, RagError
from rag.generation import load_generator
from rag.grounding import affirms, asks_yes_no, corrects
from rag.index import load_index
from rag.prompt import CORRECTION, NOT_COVERED, answer_grammar, build_messages, reading_order
from rag.query import unread_script
from rag.retrieval import passages_for
from rag.schema import Answer, Checking, Citation, Correcting, IndexInfo, Retrieved, Streamed, Timings
from rag.scope import Scope, as_scope
from rag.sync import sync_folder

log = logging.getLogger(__name__)


def build_index(source_dir: str | Path, index_dir: str | Path | None = None, *,
                settings: Settings | None = None, progress: bool = True, ray: str | None = None) -> IndexInfo:
    """Bring the index at index_dir in line with the articles in source_dir: new and changed files
    are read and embedded, deleted ones removed, unchanged ones left alone (rag.sync). `ray`: the
    address of a Ray cluster to embed on ("auto" finds or starts one), see rag.distributed."""
    settings = settings or load_settings()
    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    embed = None
    if ray:
        from rag.distributed import embed_on_ray

        def embed(texts):
            return embed_on_ray(texts, settings.embedding_model, settings.models_dir, ray)
    return sync_folder(Path(source_dir), index_dir, settings, embed=embed, progress=progress)


def ask_stream(question: str, *, index_dir: str | Path | None = None, history: list[dict] | None = None,
               top_k: int | None = None, settings: Settings | None = None,
               scope: Scope | dict | None = None) -> Iterator[Streamed]:
    """Yield the passages found (a Retrieved) as soon as retrieval is done, then the answer text
    piece by piece as the model writes it, then (when the model is asked for a second opinion on
    it, rag.consistency) a Checking, then (when it declined a yes/no question and is asked once
    more, "No, in fact, ...") a Correcting, then the final Answer. A question declined before the
    model is called yields no Retrieved: its answer follows at once.

    The pieces carry citation numbers already renumbered by first use; the Answer's text is the
    checked version (a sentence may be re-attributed or, if nothing supports the answer, replaced
    by the abstention), so a caller shows the Answer's text once it arrives.

    `scope` (a rag.Scope, or a mapping of its fields): answer from the articles of a time, a
    folder or file, an outlet only; BadInputError when no indexed article is in it.
    """
    started = time.perf_counter()
    settings = with_arguments(settings or load_settings(), top_k=top_k)
    question, history, scope = _checked(question, settings), _checked_history(history), as_scope(scope)
    index, embedder, rescorer = _searched(question, index_dir, settings, scope)
    hits = passages_for(question, index, embedder, settings.top_k, settings.relevance_gap, rescorer, history,
                        scope=scope)
    timings = Timings(retrieval=time.perf_counter() - started)

    top_score = max((hit.score for hit in hits), default=0.0)

    def declined(by: str, **read) -> Iterator[str | Answer]:
        timings.total = time.perf_counter() - started
        yield NOT_COVERED
        yield Answer(question=question, text=NOT_COVERED, citations=[], abstained=True, timings=timings, hits=hits,
                     declined_by=by, **read)

    if not hits or top_score < settings.min_relevance:
        # Nothing in the articles is close to the question: declining here is both more honest
        # and far faster than asking the model to notice it.
        yield from declined("retrieval")
        return

    passages = reading_order(hits)  # numbered as the model sees them, which its citations follow
    # Evidence first: on a CPU the model reads its prompt for seconds (10 s on a slow one); the
    # reader can read the passages meanwhile.
    yield Retrieved(hits=passages, seconds=timings.retrieval)
    generator = primed_generator(settings)
    messages = build_messages(question, passages, history)
    decline_logprob, new_prompt_tokens, calibrated_out = None, 0, False
    if settings.generator == FITTED_FOR:  # the calibration holds for the model it was fitted on
        # The generator reads the prompt and scores the decline (~0.3 s more); the prompt stays
        # cached, so the answer below costs no second reading.
        decline_logprob = generator.logprob(messages, NOT_COVERED)
        new_prompt_tokens = generator.last_new_prompt_tokens
        calibrated_out = settings.calibrated_decline and declines(decline_logprob, top_score)
    samples_disagreeing = samples_drawn = yes_margin = None
    correction = ""

    def odds_of_yes() -> float:
        # log P("Yes") - log P("No"): two one-token scores of the prompt still cached, 0.1 s in
        # all on 2 cores (median of 12 BBC yes/no questions, 2026-12-06).
        return generator.logprob(messages, "Yes") - generator.logprob(messages, "No")

    grammar = answer_grammar(len(passages)) if settings.citation_grammar else None
    if calibrated_out:
        timings.first_token = time.perf_counter() - started
        if not asks_yes_no(question):
            yield from declined("calibration", prompt_tokens=generator.last_prompt_tokens,
                                new_prompt_tokens=new_prompt_tokens, decline_logprob=decline_logprob)
            return
        # A yes/no question goes on to the correction below: the decline streams now.
        yield NOT_COVERED
        raw_text, checked, cut_off = "", Checked(NOT_COVERED, [], True, declined_by="calibration"), False
        prompt_tokens, completion_tokens = generator.last_prompt_tokens, 0
    else:
        pieces = []
        live = LiveRenumbering(len(hits))
        for piece in generator.stream(messages, settings.max_answer_tokens, grammar):
            if timings.first_token is None:
                timings.first_token = time.perf_counter() - started
            pieces.append(piece)
            if renumbered := live.feed(piece):
                yield renumbered
        if rest := live.flush():
            yield rest
        raw_text = "".join(pieces)
        # The answer's own counts: sampling a second opinion sets the generator's anew.
        prompt_tokens, completion_tokens = generator.last_prompt_tokens, generator.last_completion_tokens
        new_prompt_tokens += generator.last_new_prompt_tokens
        cut_off = generator.last_cut_off
        checked = finish(raw_text, passages, question, index.articles, cut_off=cut_off)
        if decline_logprob is not None and not checked.abstained and affirms(question, claim_bodies(checked.text)):
            # An answer that says yes: its words are the question's, so only the model can say how sure it is.
            yes_margin = odds_of_yes()
            if doubts_yes(yes_margin):
                checked = overruled(checked, "doubted_yes")
        if (settings.consistency_samples and not checked.abstained and decline_logprob is not None
                and unanswerable(decline_logprob, top_score) >= VERIFY_FROM):
            # A second opinion (rag.consistency): the model answers again; when most of its samples
            # say something else, the answer was not read in the passages.
            yield Checking(samples=settings.consistency_samples)
            samples = resample(generator, messages, grammar, passages, question, settings.consistency_samples,
                               settings.max_answer_tokens)
            samples_disagreeing, samples_drawn = tally(checked.text, samples, settings.consistency_samples, question)
            if overrules(samples_disagreeing, settings.consistency_samples):
                checked = overruled(checked, "second_opinion")
    if decline_logprob is not None and checked.abstained and asks_yes_no(question):
        # A yes/no question declined (by the calibration, the model, a check, its doubted "Yes" or
        # its second opinion), the model not sure of "Yes": its premise may be false with one
        # thing changed, the article saying what is so. Asked once more, its reply made to open
        # with "No, in fact,"; kept when the checks pass it and it names what is so instead, or
        # denies what a sentence it cites denies (rag.grounding.corrects). About 1.5 s on 2 cores.
        # Not sampled for a second opinion: samples that do not open so would not agree with it.
        yes_margin = odds_of_yes() if yes_margin is None else yes_margin
        if doubts_yes(yes_margin):
            yield Correcting()
            correction = CORRECTION + "".join(generator.stream(messages, settings.max_answer_tokens, grammar,
                                                               opening=CORRECTION))
            corrected = finish(correction, passages, question, index.articles, cut_off=generator.last_cut_off)
            cited = [sentence for citation in corrected.citations for sentence in citation.highlighted()]
            if not corrected.abstained and corrects(question, claim_bodies(corrected.text), cited):
                checked = corrected
    timings.total = time.perf_counter() - started
    yield Answer(question=question, text=checked.text, citations=checked.citations, abstained=checked.abstained,
                 timings=timings, hits=hits, prompt_tokens=prompt_tokens, new_prompt_tokens=new_prompt_tokens,
                 decline_logprob=decline_logprob, completion_tokens=completion_tokens, cut_off=cut_off,
                 unsupported=checked.unsupported, withdrawn=checked.withdrawn, raw_text=raw_text,
                 samples_disagreeing=samples_disagreeing, samples_drawn=samples_drawn, yes_margin=yes_margin,
                 correction=correction, declined_by=checked.declined_by)


def search(query: str, *, index_dir: str | Path | None = None, limit: int = 10,
           settings: Settings | None = None, scope: Scope | dict | None = None) -> list[Citation]:
    """The passages that best match `query` (a question, or a few words), best first, at most
    `limit` (1 to 50): found as a question's are (rag.retrieval: meaning and keywords fused, the
    names and dates it asks for), all of them, and without the language model: a tenth of a
    second over 150,000 articles once the embedding model is loaded. Each is a Citation: `n` its
    rank, `score` its cosine similarity to the query, `highlights` its sentence that shares most
    words with the query, `support` the share of the query's content words it holds. `scope`: as
    for ask_stream."""
    settings = settings or load_settings()
    query, scope = _checked(query, settings), as_scope(scope)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TOP_K:
        raise BadInputError(f"limit must be a whole number from 1 to {MAX_TOP_K}, not {limit!r}")
    index, embedder, rescorer = _searched(query, index_dir, settings, scope)
    hits = passages_for(query, index, embedder, limit, 0, rescorer, scope=scope)
    return [cited(n, hit, [query], index.articles) for n, hit in enumerate(hits, start=1)]


def _searched(question: str, index_dir: str | Path | None, settings: Settings, scope: Scope | None = None):
    """The index, embedding model and re-ranker a question is searched with; BadInputError when it
    is written in letters none of the articles use (it would be matched on its numbers and
    punctuation), or asked of a scope no article is in (it would be declined as if the articles
    were silent)."""
    index = load_index(Path(index_dir) if index_dir is not None else settings.index_dir, settings.embedding_model)
    if scope and not len(index.rows_in(scope)):
        raise BadInputError(f"no indexed article is {scope.described()}: widen the scope, or leave it out")
    if written_in := unread_script(question, index.scripts):
        raise BadInputError(f"the question is written in {written_in.title()} letters, which none of the indexed "
                            "articles use: ask in the language of the articles")
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    rescorer = load_embedder(settings.rescore_model, settings.models_dir) if settings.rescore_model else None
    return index, embedder, rescorer


def require_answer(items: Iterable[Streamed], question: str) -> Iterator[Streamed]:
    """The items of an ask_stream for `question`, passed on; IncompleteAnswerError if they end
    before the checked Answer. Callers that show the stream use this, so that a core that stops
    early (it was a 500 about StopIteration, the passages returned as the answer, or a chat left
    waiting for good) is one clear error wherever it happens."""
    item = None
    for item in items:
        yield item
    if not isinstance(item, Answer):
        gave = f"its last item a {type(item).__name__}" if item is not None else "nothing given"
        raise IncompleteAnswerError(f"answering {question!r} ended before the answer was checked ({gave}); "
                                    "the server's log has the details")


def ask(question: str, *, index_dir: str | Path | None = None, history: list[dict] | None = None,
        top_k: int | None = None, settings: Settings | None = None, scope: Scope | dict | None = None) -> Answer:
    """Answer `question` from the indexed articles (those in `scope`, if given), with citations.
    See ask_stream."""
    for item in require_answer(ask_stream(question, index_dir=index_dir, history=history, top_k=top_k,
                                          settings=settings, scope=scope), question):
        pass
    return item


def warm_up(settings: Settings | None = None) -> None:
    """Load what a question needs (the index, the embedding models, the generator) and have the
    part of every prompt that never changes (the instructions and the worked example) in the
    generator's cache (primed_generator), so that the first question waits only for its own part.
    `rag ui`, `rag serve` and `rag chat` call it in the background as they start (warming_up).

    Measured (2026-12-05, 2 cores, seed index, two fresh processes each way; eval/HISTORY.md,
    session 13): the first question of a process showed its passages after 4.2-4.4 s (loading the
    embedding model) and its first word after 10.2-10.5 s; once warm_up had run (6.9 s), after
    0.03 s and 3.4-3.6 s, as any later question does."""
    settings = settings or load_settings()
    load_index(settings.index_dir, settings.embedding_model)
    load_embedder(settings.embedding_model, settings.models_dir)
    if settings.rescore_model:
        load_embedder(settings.rescore_model, settings.models_dir)
    primed_generator(settings)


def primed_generator(settings: Settings):
    """The generator, with the part of every prompt that never changes in its cache (restored from
    the state an earlier process saved in models_dir/prompt-cache, else read and saved there)."""
    generator = load_generator(settings)
    generator.prime(build_messages("", []), settings.models_dir / "prompt-cache")
    return generator


@contextmanager
def warming_up(settings: Settings) -> Iterator[None]:
    """warm_up in a thread of its own while the body (a server, a chat) runs: a question asked
    meanwhile waits for the models it loads rather than loading them again; a missing index or
    model is left for the question to report. Leaving waits for the thread: a process that ended
    while it was in the model crashed (the model freed at exit under it), or, ended while it was
    importing, printed a traceback."""
    def run() -> None:
        try:
            warm_up(settings)
        except RagError as exc:
            log.info("not warmed up: %s", exc)

    thread = threading.Thread(target=run, daemon=True, name="rag-warm-up")
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _checked_history(history) -> list[dict]:
    """The conversation, a list of {role, content} turns (turns of other roles or without text are
    skipped where they are read); anything else was an AttributeError deep in retrieval (found by
    fuzzing)."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise BadInputError(f"the history must be a list of {{role, content}} turns, not {type(history).__name__}")
    for k, turn in enumerate(history):
        if not isinstance(turn, dict):
            raise BadInputError(f"history[{k}] must be a {{role, content}} turn (a dict), not {type(turn).__name__}")
    return list(history)


def _checked(question: str, settings: Settings) -> str:
    if not isinstance(question, str):
        raise BadInputError(f"the question must be text (str), not {type(question).__name__}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 (a command line, a bad client)
        raise BadInputError("the question is not valid text: it holds bytes that are not UTF-8; "
                            "type it again, or save it as UTF-8") from None
    if not question.strip():
        raise BadInputError("the question is empty: type a question about the articles")
    question = " ".join(question.split())
    if len(question) > settings.max_question_chars:
        raise BadInputError(
            f"the question is {len(question)} characters long; the limit is {settings.max_question_chars} "
            "(ask something shorter, or raise max_question_chars)"
        )
    return question
