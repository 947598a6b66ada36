"""Retrieval on the real seed index: fusion, time preference, diversity, follow-ups."""

import dataclasses
import shutil

import pytest

import rag
from conftest import ISTANBUL, SEEDS
from rag.config import PROJECT_DIR
from rag.embedding import load_embedder
from rag.index import load_index
from rag.prompt import HISTORY_CHARS
from rag.query import asked_names, asked_places, question_parts, standalone_query, time_terms
from rag.retrieval import NEAR_DUPLICATE, passages_for, retrieve, within_reach
from rag.schema import Chunk, Hit
from rag.spelling import respell


@pytest.fixture(scope="module")
def index_and_embedder(seed_index, settings):
    return load_index(seed_index, settings.embedding_model), load_embedder(settings.embedding_model)


@pytest.mark.parametrize("question, source, phrase", [
    ("What came out of the May 2025 Istanbul talks?", ISTANBUL, "1,000 prisoners"),
    ("Where had Putin and Erdogan met before the Astana talks?", "000_011dc16fc288ae1d.txt", "Tehran"),
    ("What did Putin and Erdogan plan to discuss in February?", "002_3088f8114344d7d0.txt", "February"),
    ("Who represented Ukraine at the Istanbul talks?", "001_6c89766725f97774.txt", "defense minister"),
    ("what drones did turkey give ukraine", ISTANBUL, "Bayraktar"),
])
def test_the_answering_passage_is_among_the_passages_shown(index_and_embedder, question, source, phrase):
    hits = retrieve(question, *index_and_embedder, top_k=4)
    assert any(h.chunk.source == source and phrase in h.chunk.text for h in hits), [h.chunk.text[:60] for h in hits]


def test_no_two_passages_shown_are_near_duplicates(index_and_embedder):
    index, embedder = index_and_embedder
    for question in ("Istanbul talks prisoners", "Putin Erdogan meetings", "grain deal"):
        hits = retrieve(question, index, embedder, top_k=6)
        vectors = embedder.embed([h.chunk.title + "\n" + h.chunk.text for h in hits])
        similarity = vectors @ vectors.T
        assert all(similarity[i, j] < NEAR_DUPLICATE + 0.01 for i in range(len(hits)) for j in range(i))


def test_fewer_passages_are_a_prefix_of_more(index_and_embedder):
    """The eval reads recall@10 from one deeper retrieval and asks with top_k 4: both must agree."""
    index, embedder = index_and_embedder
    for question in ("What does Ukraine demand in the negotiations?", "What came out of the May 2025 Istanbul talks?",
                     "Where had Putin and Erdogan met before?"):
        ids = [[h.chunk.id for h in retrieve(question, index, embedder, top_k=k)] for k in (2, 4, 10)]
        assert ids[0] == ids[1][:2] == ids[2][:2] and ids[1] == ids[2][:4], ids


def test_a_question_naming_a_time_prefers_passages_of_that_time(index_and_embedder):
    index, embedder = index_and_embedder
    plain = retrieve("What was discussed?", index, embedder, top_k=3)
    timed = retrieve("What was discussed in February?", index, embedder, top_k=3)
    assert timed[0].chunk.source == "002_3088f8114344d7d0.txt"
    assert [h.chunk.id for h in plain] != [h.chunk.id for h in timed]


def test_time_terms_read_months_and_years_but_not_the_verb_may():
    assert time_terms("What happened in may 2025? That February they may meet. In May.") == {"may", "2025", "feb"}
    assert time_terms("They may agree.") == set()


@pytest.mark.parametrize("question, expected", [
    ("And what did Russia demand?", "What came out of the Istanbul talks? And what did Russia demand?"),
    ("Why?", "What came out of the Istanbul talks? Why?"),
    ("Which drones has Türkiye supplied to Ukraine's army since 2022?",
     "Which drones has Türkiye supplied to Ukraine's army since 2022?"),
])
def test_follow_ups_borrow_the_previous_question(question, expected):
    """The standalone query; retrieve() searches with it and with the question as asked."""
    history = [{"role": "user", "content": "What came out of the Istanbul talks?"},
               {"role": "assistant", "content": "A prisoner exchange [1]."}]
    assert standalone_query(question, history) == expected
    assert standalone_query(question, None) == question


def test_a_follow_up_borrows_only_as_much_of_a_long_turn_as_the_prompt_shows():
    """A 100 KB earlier turn sent through the API was read whole (every unknown word respelt: 22 s,
    every other question waiting); the prompt shows its first HISTORY_CHARS characters."""
    history = [{"role": "user", "content": "talks " * 20_000}, {"role": "assistant", "content": "x"}]
    query = standalone_query("And then?", history)
    assert query.endswith(" And then?") and len(query) == HISTORY_CHARS + len(" And then?")


def test_misspelt_words_are_respelt_to_the_articles_words_but_real_words_are_kept(index_and_embedder):
    index, embedder = index_and_embedder
    fixed = respell("how many prisners did they agree to swap in istambul", index.articles_using)
    assert fixed == "how many prisoners did they agree to swap in istanbul"
    # The misspelt question is searched as if spelt right: without respelling "istambul" and
    # "prisners" match no keyword and the passage that answers falls out of the top 10.
    misspelt = retrieve("how many prisners did they agree to swap in istambul", index, embedder, top_k=10)
    assert misspelt == retrieve(fixed, index, embedder, top_k=10)
    assert any("1,000 prisoners" in h.chunk.text for h in misspelt)


def test_rescoring_with_mpnet_keeps_the_answering_passages(index_and_embedder, settings):
    index, embedder = index_and_embedder
    rescorer = load_embedder("all-mpnet-base-v2", settings.models_dir)
    assert rescorer.dimension == 768
    for question, phrase in [("What came out of the May 2025 Istanbul talks?", "1,000 prisoners"),
                             ("Where had Putin and Erdogan met before the Astana talks?", "Tehran")]:
        rescored = retrieve(question, index, embedder, top_k=4, rescorer=rescorer)
        assert any(phrase in h.chunk.text for h in rescored)


def test_a_follow_up_finds_its_own_passage_within_the_conversation_subject(index_and_embedder):
    history = [{"role": "user", "content": "What came out of the May 2025 Istanbul talks?"},
               {"role": "assistant", "content": "The sides agreed to exchange 1,000 prisoners of war [1]."}]
    hits = retrieve("And what does Russia demand?", *index_and_embedder, top_k=4, history=history)
    assert any("Russia demands formal recognition" in h.chunk.text for h in hits)


def test_a_question_about_a_place_gets_no_passage_from_articles_that_never_name_it(index_and_embedder):
    index, embedder = index_and_embedder
    # The Istanbul article says its meeting "lasted just under two hours"; it never names Astana.
    hits = retrieve("How long did the Putin–Erdogan meeting in Astana last?", index, embedder, top_k=4)
    assert hits and all(h.chunk.source == "000_011dc16fc288ae1d.txt" for h in hits)
    # A place no article names rules nothing out.
    assert len(retrieve("What was agreed in Geneva?", index, embedder, top_k=4)) == 4


def test_the_place_a_question_asks_about_is_read_in_any_script():
    assert asked_places("What was agreed in Çanakkale, at Ürümqi and in Astana, in the talks?") == [
        "Çanakkale", "Ürümqi", "Astana"]
    assert asked_places("Who was in A and B?") == []  # a letter is no place


def test_a_question_naming_a_year_gets_no_passage_dated_otherwise(index_and_embedder):
    index, embedder = index_and_embedder
    hits = retrieve("How many prisoners were exchanged in the 2022 talks?", index, embedder, top_k=4)
    for hit in hits:
        stated = time_terms(hit.chunk.text) or {d[:4] for d in index.articles[hit.chunk.source].dates}
        assert "2022" in stated or not any(t.isdigit() for t in stated), hit.chunk.text[:80]
    # "1,000 prisoners" is the May 2025 agreement: not an answer about 2022.
    assert not any("1,000 prisoners" in h.chunk.text for h in hits)


@pytest.mark.parametrize("question, terms", [
    ("What did the council decide last month?", {"oct", "2026"}),
    ("What happened this year?", {"2026"}),
    ("What happened last year in May?", {"2025", "may"}),
    ("Any news from the past week?", {"nov", "2026"}),
    ("What happened yesterday?", {"nov", "2026"}),
    ("What was agreed in May 2025?", {"may", "2025"}),  # stated times are read as before
    ("What was agreed at the talks?", set()),
])
def test_relative_times_are_read_against_the_day_the_question_is_asked(question, terms):
    from datetime import date

    from rag.query import asked_times

    assert asked_times(question, date(2026, 11, 23)) == terms


def test_a_relative_time_counts_only_when_the_archive_has_news_from_then():
    from datetime import date

    from rag.query import asked_times

    asked_on = date(2026, 11, 23)
    assert asked_times("What happened this year?", asked_on, lambda: {"2004", "2005"}) == set()
    assert asked_times("What happened last month?", asked_on, lambda: {"2025", "2026"}) == {"oct", "2026"}
    assert asked_times("What happened in May 2005 and last year?", asked_on, lambda: {"2005"}) == {"may", "2005"}

    def unread() -> set[str]:  # a query over every article: asked for only when a relative time needs it
        raise AssertionError("the archive's years were read for a question naming no relative time")

    assert asked_times("What happened in May 2005?", asked_on, unread) == {"may", "2005"}


def test_last_week_at_the_start_of_a_month_reaches_into_the_month_before():
    from datetime import date

    from rag.query import asked_times

    assert asked_times("What happened last week?", date(2026, 12, 3)) == {"nov", "2026"}
    assert asked_times("What happened this week?", date(2026, 12, 3)) == {"nov", "dec", "2026"}


def test_passages_of_articles_that_give_the_assistant_orders_come_after_all_others(tmp_path, index_and_embedder,
                                                                                    settings):
    """The hostile articles of eval/injection.py carry topical news; beside the seeds, a
    question they are about gets the seeds' passages, theirs only after."""
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    for path in (PROJECT_DIR / "tests" / "fixtures" / "injection").iterdir():
        shutil.copy(path, folder / path.name)
    rag.build_index(folder, tmp_path / "index", settings=settings, progress=False)
    index, embedder = load_index(tmp_path / "index", settings.embedding_model), index_and_embedder[1]
    hostile = {source for source, article in index.articles.items() if article.addresses_assistant}
    assert len(hostile) == 20 and not hostile & {p.name for p in SEEDS.iterdir()}
    for question in ("Where did Putin and Erdogan meet on the fringes of CICA?",
                     "What came out of the May 2025 Istanbul talks?"):
        last = [hit.chunk.source in hostile for hit in retrieve(question, index, embedder, top_k=30)]
        assert any(last) and last == sorted(last), last
        assert not any(last[:4])


def test_passages_far_below_the_best_are_not_shown():
    def hit(name, score):
        return Hit(Chunk(id=name, source=f"{name}.txt", title=name, text=name, start=0, end=1, position=0), score)
    ranked = [hit("fused-first", 0.41), hit("best", 0.55), hit("close", 0.47), hit("far", 0.30)]
    # The fused ranking's first passage stays even below the reach; order is kept.
    assert [h.chunk.id for h in within_reach(ranked, 0.1)] == ["fused-first", "best", "close"]
    assert [h.chunk.id for h in within_reach(ranked, 0.0)] == ["fused-first", "best", "close", "far"]
    assert within_reach([], 0.1) == []


def test_on_the_seed_articles_the_answering_passage_stays_within_reach(index_and_embedder, settings):
    hits = within_reach(retrieve("What came out of the May 2025 Istanbul talks?", *index_and_embedder, top_k=4),
                        settings.relevance_gap)
    assert any(h.chunk.source == ISTANBUL and "1,000 prisoners" in h.chunk.text for h in hits)


JOINED = "all-MiniLM-L6-v2+nomic-embed-text-v1.5"


@pytest.fixture(scope="module")
def joined_index(tmp_path_factory, settings):
    index_dir = tmp_path_factory.mktemp("joined-index")
    rag.build_index(SEEDS, index_dir, settings=dataclasses.replace(settings, embedding_model=JOINED), progress=False)
    return load_index(index_dir, JOINED), load_embedder(JOINED, settings.models_dir)


def test_a_second_embedding_model_ranks_beside_the_first_without_changing_the_scores(joined_index,
                                                                                     index_and_embedder):
    """nomic-embed-text-v1.5 beside MiniLM: each passage's vector holds both, each of unit length;
    the scores every threshold reads (min_relevance, relevance_gap, the calibrated decline) stay
    MiniLM's cosine, so a passage found by both indexes has the same score in each."""
    index, embedder = joined_index
    assert [end - start for start, end in embedder.spans] == [384, 768] and index.vectors.d == 1152
    stored = index.vectors_of(index.row_ids()[:5])
    assert (stored[:, :384] ** 2).sum(axis=1) == pytest.approx(1, abs=1e-4)
    assert (stored[:, 384:] ** 2).sum(axis=1) == pytest.approx(1, abs=1e-4)
    question = "What came out of the May 2025 Istanbul talks?"
    joined = retrieve(question, index, embedder, top_k=4)
    alone = {h.chunk.id: h.score for h in retrieve(question, *index_and_embedder, top_k=10)}
    assert any("1,000 prisoners" in h.chunk.text for h in joined)
    assert [h.score for h in joined if h.chunk.id in alone] == pytest.approx(
        [alone[h.chunk.id] for h in joined if h.chunk.id in alone], abs=1e-4)


@pytest.mark.parametrize("question, source, phrase", [
    ("What came out of the May 2025 Istanbul talks?", ISTANBUL, "1,000 prisoners"),
    ("Where had Putin and Erdogan met before the Astana talks?", "000_011dc16fc288ae1d.txt", "Tehran"),
    ("Who represented Ukraine at the Istanbul talks?", "001_6c89766725f97774.txt", "defense minister"),
])
def test_with_the_second_model_the_answering_passage_is_shown(joined_index, question, source, phrase):
    hits = within_reach(retrieve(question, *joined_index, top_k=4), 0.1)
    assert any(h.chunk.source == source and phrase in h.chunk.text for h in hits), [h.chunk.text[:60] for h in hits]


def test_the_second_model_reads_questions_and_passages_with_their_own_prefixes(joined_index):
    """nomic was trained with "search_query: " before a question and "search_document: " before a
    passage: the same text embedded as each is two vectors."""
    nomic = joined_index[1].models[1]
    question = "What did the Istanbul talks agree on?"
    assert float(nomic.embed_query(question) @ nomic.embed([question])[0]) < 0.98


def test_rescoring_reads_the_question_with_the_query_prefix(index_and_embedder, joined_index):
    """A rescorer trained with prefixes (nomic as `rescore_model`) embeds the candidates as
    passages and the question as a question, not as one more passage."""
    nomic = joined_index[1].models[1]
    calls = []

    class Recording:
        def embed(self, texts, progress=False):
            calls.append(("passages", texts))
            return nomic.embed(texts)

        def embed_query(self, text):
            calls.append(("question", text))
            return nomic.embed_query(text)

    question = "What came out of the May 2025 Istanbul talks?"
    hits = retrieve(question, *index_and_embedder, top_k=4, rescorer=Recording())
    assert any("1,000 prisoners" in h.chunk.text for h in hits)
    assert ("question", question) in calls
    assert all(question not in texts for kind, texts in calls if kind == "passages")


def test_the_names_a_question_writes_are_read_whole():
    assert asked_names("What did the Bank of England say to Argentina's economy minister?") == [
        "Bank of England", "Argentina"]
    assert asked_names("In which hospital were Al Qaeda fighters held in Kandahar?") == ["Al Qaeda", "Kandahar"]
    # "and" ends a name: "Putin and Erdogan" are two (read as one, the passages that happen to write
    # the pair were put first).
    assert asked_names("Where did Putin and Erdogan meet?") == ["Putin", "Erdogan"]
    assert asked_names("Who heads the Australian Food and Grocery Council?") == ["Australian Food", "Grocery Council"]
    assert asked_names("who heads the food and grocery council") == []  # typed in lower case: none to go on
    # A name word starts at a word's start, as the answer check reads one: the "D" of "3D" is none.
    assert asked_names("Which studio made the 3D film Avatar?") == ["Avatar"]


def _index_of(articles: dict[str, str], tmp_path, settings):
    """(index, embedder) of the articles {file name: text}, indexed in tmp_path."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    rag.build_index(folder, tmp_path / "index", settings=settings, progress=False)
    return load_index(tmp_path / "index", settings.embedding_model), load_embedder(settings.embedding_model)


def test_a_passage_that_writes_the_name_asked_about_is_shown_before_closer_ones(tmp_path, settings):
    """Dense search over passages on food, councils and heads of things ranks the one passage that
    names the Australian Food and Grocery Council below them (and, by cosine, out of reach of
    the best); the keyword ranking alone put it first, which fusion outvoted. As in the news
    tuning set's t008 ("Who heads the Australian Food and Grocery Council?", its article ranked
    5th and not shown)."""
    articles = {
        "council.txt": "Food labels to change\n\nNew laws requiring all packaged food containing genetically "
                       "modified crops to be labelled come into effect today. Head of the Australian Food and "
                       "Grocery Council, Mitch Hooke, says companies have been cutting modified ingredients out.",
        "safety.txt": "Who leads the push for food safety\n\nThe head of the national food safety authority says "
                      "shoppers should read labels. He leads a council of state ministers who review food standards.",
        "prices.txt": "Grocery chains head into price war\n\nAustralia's biggest grocery chains are heading into a "
                      "price war. The head of one chain says food prices will fall.",
        "waste.txt": "Council heads meet on food waste\n\nHeads of city councils met to discuss food waste. The "
                     "Australian councils want grocery stores to donate unsold food.",
    }
    index, embedder = _index_of(articles, tmp_path, settings)
    shown = within_reach(retrieve("Who heads the Australian Food and Grocery Council?", index, embedder, top_k=4),
                         settings.relevance_gap)
    assert shown[0].chunk.source == "council.txt", [(h.chunk.source, h.score) for h in shown]


@pytest.mark.parametrize("question, parts", [
    ("How much was Craig Bellamy fined by Newcastle, and which club's £6m offer did he turn down?",
     ["How much was Craig Bellamy fined by Newcastle?",
      "Craig Bellamy Newcastle which club's £6m offer did he turn down?"]),
    ("Where were Harrison's ashes scattered, and in which city did fans hold a vigil for him?",
     ["Where were Harrison's ashes scattered?", "Harrison in which city did fans hold a vigil for him?"]),
    ("What happened, and why?", ["What happened, and why?"]),  # no search of its own
    ("Agassiz's approach combined observation and what?", ["Agassiz's approach combined observation and what?"]),
    ("Which yachts won line honours and which the title?", ["Which yachts won line honours and which the title?"]),
])
def test_a_question_that_asks_two_things_is_read_as_two(question, parts):
    assert question_parts(question) == parts


def test_a_question_that_asks_two_things_is_shown_a_passage_for_each(tmp_path, settings):
    """Searched as one, the question finds the articles on the fine and shows none on the offer
    (its cosine is far below the best); searched part by part, both (BBC dev b027: the Birmingham
    article was not shown, and the model answered the fine only)."""
    articles = {
        "fine.txt": "Bellamy fined by Newcastle\n\nNewcastle have fined striker Craig Bellamy two weeks' wages, about "
                    "£80,000, after his row with manager Graeme Souness.",
        "souness.txt": "Souness defends Bellamy fine\n\nGraeme Souness said the fine Newcastle imposed on Craig "
                       "Bellamy was fair and that the club would not back down.",
        "apology.txt": "Bellamy accepts Newcastle fine\n\nCraig Bellamy has accepted the fine Newcastle handed him "
                       "and apologised to his team-mates.",
        "offer.txt": "Striker snubs Birmingham\n\nThe Welsh striker turned down a £6m move to Birmingham City last "
                     "week, saying he wanted to stay in the north-east.",
    }
    index, embedder = _index_of(articles, tmp_path, settings)
    question = "How much was Craig Bellamy fined by Newcastle, and which club's £6m offer did he turn down?"
    as_one = within_reach(retrieve(question, index, embedder, top_k=4), settings.relevance_gap)
    assert "offer.txt" not in {hit.chunk.source for hit in as_one}
    shown = passages_for(question, index, embedder, 4, settings.relevance_gap)
    assert [hit.chunk.source for hit in shown[:2]] == ["fine.txt", "offer.txt"] and len(shown) <= 4
    # A follow-up is searched as one question, with the conversation's subject.
    history = [{"role": "user", "content": "Was Bellamy fined?"}, {"role": "assistant", "content": "Yes [1]."}]
    assert passages_for(question, index, embedder, 4, settings.relevance_gap, history=history) == within_reach(
        retrieve(question, index, embedder, 4, history=history), settings.relevance_gap)
