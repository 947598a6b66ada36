"""A question kept to some articles (rag.Scope): a time, a folder or file of the library, an outlet.
Searched within them, by meaning and by keywords, not found everywhere and filtered after; a
scope no article is in, or a malformed one, is refused with the reason wherever it is given."""

import contextlib
import io
import json
import shutil

import faiss
import numpy as np
import pytest

import rag
from conftest import SEEDS
from rag import vectors
from rag.cli import main
from rag.config import load_settings
from rag.errors import BadInputError
from rag.index import SCOPES_HELD, load_index
from ui import chat

TALKS = "004_e89adec3750aa83b.txt"  # TRT World, 15-16 May 2025: the Istanbul talks


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The seeds under ukraine/, and two more Istanbul stories: one in 2024 from another outlet, in
    its own folder, and one in a dump of 2023 stories."""
    folder = tmp_path_factory.mktemp("scoped") / "library"
    shutil.copytree(SEEDS, folder / "ukraine")
    (folder / "fisheries").mkdir()
    (folder / "fisheries" / "cod.txt").write_text(
        "Published: 3 March 2024\nNorway and Iceland agree cod quota in Istanbul\n"
        "Fisheries ministers of Norway and Iceland met in Istanbul on Monday and agreed a cod quota of "
        "120,000 tonnes for 2024. The Harbour Times reported that the talks lasted two days.\n", encoding="utf-8")
    (folder / "older.jsonl").write_text(json.dumps({
        "title": "Istanbul hosts grain talks", "outlet": "Harbour Times", "date": "2023-07-20",
        "text": "Delegations met in Istanbul to extend the grain corridor. The talks agreed on nothing."}) + "\n",
        encoding="utf-8")
    settings = load_settings(index_dir=folder.parent / "index")
    rag.build_index(folder, settings=settings, progress=False)
    return settings


def sources(found):
    return {c.source for c in found}


def test_a_search_kept_to_a_folder_a_file_a_time_or_an_outlet_finds_only_its_articles(library):
    question = "What was agreed at the talks in Istanbul?"
    everywhere = sources(rag.search(question, limit=10, settings=library))
    assert "older.jsonl#1" in everywhere and any(s.startswith("ukraine/") for s in everywhere)
    assert sources(rag.search(question, settings=library, scope=rag.Scope(within="fisheries"))) == {"fisheries/cod.txt"}
    # A file, named as the Library names it, with a slash at either end or Windows' separator.
    for within in (f"ukraine/{TALKS}", f"/ukraine\\{TALKS}/"):
        assert sources(rag.search(question, settings=library, scope=rag.Scope(within=within))) == {f"ukraine/{TALKS}"}
    # A folder is a whole name: "ukr" is no folder, and "fisheries/cod" no file.
    for within in ("ukr", "fisheries/cod"):
        with pytest.raises(BadInputError, match=f"no indexed article is in {within}: widen the scope"):
            rag.search(question, settings=library, scope=rag.Scope(within=within))
    # Dates: the publication date, else the latest the text states; "until 2024" is to its end.
    in_2024 = rag.search(question, settings=library, scope=rag.Scope(since="2024", until="2024"))
    assert sources(in_2024) == {"fisheries/cod.txt"} and {c.date for c in in_2024} == {"2024-03-03"}
    assert sources(rag.search(question, settings=library, scope=rag.Scope(until="2023-12"))) >= {"older.jsonl#1"}
    assert all(c.date >= "2025-05" for c in rag.search(question, settings=library, scope=rag.Scope(since="2025-05")))
    # An outlet by the words of its name, whole and in order, whatever the case.
    for outlet in ("harbour times", "Harbour", "times"):
        assert sources(rag.search(question, settings=library, scope=rag.Scope(outlet=outlet))) == {"older.jsonl#1"}
    assert sources(rag.search(question, settings=library, scope=rag.Scope(outlet="TRT"))) == {f"ukraine/{TALKS}"}
    for outlet in ("harb", "times harbour", "%", "_arbour times"):
        with pytest.raises(BadInputError, match="no indexed article is from"):
            rag.search(question, settings=library, scope=rag.Scope(outlet=outlet))


@pytest.mark.parametrize("outlet, wanted, held", [
    ("BBC News - World", "bbc", True), ("BBC News - World", "news world", True), ("The Times", "times", True),
    ("Süddeutsche Zeitung", "SUDDEUTSCHE zeitung", True), ("Reuters.", "reuters", True),
    ("theguardian.com", "Guardian", True), ("theguardian.com", "The Guardian", True), ("www.bbc.co.uk", "BBC", True),
    ("apnews.com", "AP", True), ("japantimes.co.jp", "AP", False), ("Harbour Times", "harb", False),
    ("Harbour Times", "times harbour", False), ("The Guardian", "guard", False), (None, "bbc", False),
    ("BBC News", "%", False)])
def test_an_outlet_is_named_by_its_words_or_by_its_web_address(outlet, wanted, held):
    """An article's outlet is the name its page or feed gives, or else its web address (the
    Guardian's API names none): "guardian" keeps both, in any case and accents."""
    from rag.scope import outlet_holds

    assert outlet_holds(outlet, wanted) is held


def test_a_scope_may_be_given_as_a_mapping_of_its_fields(library):
    """As a JSON request or a script holds it."""
    found = rag.search("talks in Istanbul", settings=library, scope={"within": "fisheries", "since": "March 2024"})
    assert sources(found) == {"fisheries/cod.txt"}
    for scope in ({"from": "2024"}, "2024", ["fisheries"]):
        with pytest.raises(BadInputError, match="^scope must be an object with any of since, until, within, outlet"):
            rag.search("talks", settings=library, scope=scope)


def test_the_articles_of_a_scope_are_listed_as_a_question_kept_to_it_sees_them(library):
    """Which articles a scope holds, before asking: the Library's search, the CLI and the API."""
    from rag.library import find_articles

    found, total = find_articles(settings=library, scope=rag.Scope(until="2024"))
    assert total == 3 and [a.source for a in found] == ["fisheries/cod.txt", "older.jsonl#1",
                                                         "ukraine/001_6c89766725f97774.txt"]  # its "2022-02"
    assert find_articles("cod", settings=library, scope={"within": "ukraine"}) == ([], 0)
    assert find_articles("istanbul", settings=library, scope={"outlet": "harbour times"})[1] == 1
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["--index-dir", str(library.index_dir), "articles", "--json", "--within", "fisheries"]) == 0
    assert json.loads(printed.getvalue())["total"] == 1


def test_a_passage_only_the_keywords_find_is_found_in_its_scope(library):
    """The keyword ranking is searched within the scope too: a few rare words outside any
    sentence's meaning still find their passage there."""
    found = rag.search("120,000 tonnes", settings=library, scope=rag.Scope(since="2024-03-03", until="2024-03-03"))
    assert [c.source for c in found] == ["fisheries/cod.txt"] and "120,000 tonnes" in found[0].quote


@pytest.mark.parametrize("scope, reason", [
    (dict(since="24"), "since must be a year, month or day as 2024, 2024-05, 2024-05-16 or May 2024, not '24'"),
    (dict(since="May 2024 to June"), "since must be a year, month or day as"),
    (dict(until="2024-13"), "until is not a date of the calendar: '2024-13'"),
    (dict(since="2024-02-30"), "since is not a date of the calendar"),
    (dict(since="2025", until="2024-12"), "until \\(2024-12\\) is before since \\(2025\\)"),
    (dict(within=3), "within must be text, not 3"),
])
def test_a_malformed_scope_is_refused_with_the_reason(scope, reason):
    with pytest.raises(BadInputError, match=f"^{reason}"):
        rag.Scope(**scope)


def test_a_scope_says_what_it_keeps_and_an_empty_one_keeps_everything():
    assert rag.Scope(since="2024", until="2024-06", within="business/", outlet="BBC").described() == (
        "dated from 2024 to 2024-06, in business, from BBC")
    assert rag.Scope(until="2024").described() == "dated 2024 or earlier"
    assert not rag.Scope(since=" ", within="/") and rag.Scope(within="/").within is None
    assert rag.Scope(since="2024-05", until="2024")  # May to the end of 2024: not "until before since"
    # A date written as news writes one is read as its ISO form.
    assert (rag.Scope(since="May 2024").since, rag.Scope(until="16 May 2024").until) == ("2024-05", "2024-05-16")


def test_an_ivf_index_searched_in_a_small_scope_still_finds_its_nearest(tmp_path):
    """An approximate index reads NPROBE of its lists: kept to 1% of its vectors, it reads 100 times
    as many (all, here), so the scope's own nearest passages are found, not those of the few lists
    that happen to hold some."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(4000, 16)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    ivf = faiss.index_factory(16, "IVF64,Flat", faiss.METRIC_INNER_PRODUCT)
    ivf.train(points)
    ivf.nprobe = 2
    ids = np.arange(4000, dtype=np.int64)
    ivf.add_with_ids(points, ids)
    scope = ids[::100]  # 40 passages
    for query in points[:20]:
        exact = scope[np.argsort(-(points[scope] @ query))[:5]].tolist()
        found = vectors.search(ivf, query, 5, faiss.IDSelectorBatch(scope), len(scope) / len(ids))
        assert [i for i, _ in found] == exact


def test_the_scope_s_passages_are_found_once_per_index_generation_for_a_few_scopes(library):
    index = load_index(library.index_dir, library.embedding_model)
    scope = rag.Scope(within="fisheries")
    first = index.rows_in(scope)
    assert len(first) >= 1 and index.rows_in(scope) is first
    for year in range(2000, 2000 + SCOPES_HELD):  # a server's readers may try many: the oldest go
        index.rows_in(rag.Scope(since=str(year)))
    assert index.rows_in(scope) is not first and np.array_equal(index.rows_in(scope), first)


def test_the_command_line_keeps_a_search_to_a_scope_and_refuses_a_bad_one(library, capsys):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["--index-dir", str(library.index_dir), "search", "talks in Istanbul", "--json",
                     "--within", "fisheries"]) == 0
    assert {c["source"] for c in json.loads(printed.getvalue())} == {"fisheries/cod.txt"}
    assert main(["--index-dir", str(library.index_dir), "search", "talks", "--since", "spring 2024"]) != 0
    assert "since must be a year, month or day" in capsys.readouterr().err


def test_the_chat_says_when_no_article_is_in_the_scope_without_calling_the_model(library):
    *_, (_, messages, exchanges, _) = chat.respond("What was agreed?", [], 4, library.generator, True,
                                                   since="2030", settings=library)
    assert exchanges[-1].error == "no indexed article is dated 2030 or later: widen the scope, or leave it out"
    assert "widen the scope" in messages[-1]["content"]


@pytest.mark.slow  # the generator answers
def test_an_answer_kept_to_one_article_cites_only_it(library):
    answer = rag.ask("What did the ministers agree at the talks in Istanbul?", settings=library,
                     scope=rag.Scope(within="fisheries"))
    assert not answer.abstained and "120,000 tonnes" in answer.text
    assert {c.source for c in answer.citations} == {"fisheries/cod.txt"}
    assert {hit.chunk.source for hit in answer.hits} == {"fisheries/cod.txt"}
