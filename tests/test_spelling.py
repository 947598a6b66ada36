"""Respelling a question's misspelt words (rag.spelling) against the words an index's articles
use, looked up in the index (rag.index.StoredIndex.articles_using), not held in memory."""

import pytest

from rag.index import load_index
from rag.query import unread_script
from rag.spelling import respell


def used_by(*words, counts=None):
    """articles_using over articles that use exactly these words (each by one article, unless counted)."""
    counts = counts or {}
    return lambda asked: {w: counts.get(w, 1) for w in asked if w in words}


def test_typos_become_the_articles_word_one_edit_away():
    articles = used_by("prisoners", "istanbul", "kazakhstan", "february", "erdogan", "moscow", "offer", "over")
    assert respell("how many prisners did they agree to swap in istambul", articles) == \
        "how many prisoners did they agree to swap in istanbul"
    assert respell("erdgan in kazakstan in februray", articles) == "erdogan in kazakhstan in february"
    # A letter left out reads closer than one changed, however common the other word is.
    assert respell("how did moskow respond to the ofer", used_by("moscow", "offer", "over", counts={"over": 50})) == \
        "how did moscow respond to the offer"


def test_right_words_the_articles_do_not_use_are_not_turned_into_words_they_do():
    """The difflib respeller before rewrote these over the BBC archive, changing what was asked."""
    articles = used_by("storing", "acts", "bilateral", "slashed", "tana", "banter", "open", "user", "code")
    for question in ("Why was she sentenced to stoning?", "How many yachts took part?",
                     "Who proposed trilateral talks?", "Which slasher film did she co-write?",
                     "What happened in Astana?",  # two edits from "tana"
                     "What did Santer say?",  # a name one edit from another word, at its first letter
                     "What did OPEC and the USSR agree?",  # acronyms
                     "Why didn't they come?", "Why didn’t they come?"):  # "didn" is no typo of "didn't"
        assert respell(question, articles) == question


def test_a_word_spelt_the_british_or_the_american_way_is_respelt_as_the_articles_spell_it():
    articles = used_by("fueling", "colour", "organised", "centre", "defense", "filling", "storing")
    assert respell("Fuelling doubts, in color, organized at the center of the defence", articles) == \
        "fueling doubts, in colour, organised at the centre of the defense"
    # Another word one edit away is not another spelling: "filing" is not "filling".
    assert respell("When was the filing made?", articles) == "When was the filing made?"


def test_a_name_the_articles_write_with_accents_is_respelt_to_them_before_a_closer_word():
    assert respell("When was Conde born?", used_by("code", "condé", counts={"code": 9})) == "When was condé born?"


def test_a_word_nothing_is_one_edit_from_is_left_alone():
    assert respell("What did Zbigniewski say?", used_by("said")) == "What did Zbigniewski say?"


@pytest.fixture(scope="module")
def index(seed_index, settings):
    return load_index(seed_index, settings.embedding_model)


def test_the_index_looks_up_the_words_its_articles_use(index):
    used = index.articles_using(["istanbul", "astana", "prisoners", "zanzibar", "istambul"])
    assert set(used) == {"istanbul", "astana", "prisoners"}
    assert used["istanbul"] >= 2 and used["astana"] >= 1  # how many articles: the seeds name Istanbul in several
    # Respelt against the index itself, as retrieval does.
    assert respell("how many prisners were swapped in istambul", index.articles_using) == \
        "how many prisoners were swapped in istanbul"


def test_the_index_knows_which_scripts_its_articles_are_written_in(index):
    assert "LATIN" in index.scripts and "CYRILLIC" not in index.scripts
    assert unread_script("Что решили в Стамбуле?", index.scripts) == "CYRILLIC"
    assert unread_script("What did Erdoğan say?", index.scripts) is None
