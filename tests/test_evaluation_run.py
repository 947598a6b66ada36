"""`rag eval` end to end with the real models, on a slice small enough for every test run: two
seed questions, two SQuAD questions from the fixture, then a comparison of two reports. The full
run is a documented command (eval/README.md), not a test."""

import contextlib
import io
import json
from pathlib import Path

import pytest

from rag.cli import main
from rag.config import PROJECT_DIR
from rag.evaluation.runner import summarize
from rag.models import GENERATORS
from rag.schema import DECLINED_BY, Answer, Timings

QUESTIONS = PROJECT_DIR / "eval" / "questions.jsonl"
SQUAD = Path(__file__).resolve().parent / "fixtures" / "squad_v2_tiny.json"
SLICE = ("q001", "q068")  # a fact from one seed; "What is the capital of Australia?"
METRICS = {
    "count", "accuracy", "answerable_accuracy", "mean_f1", "abstention", "false_abstention", "recall@1", "recall@3",
    "recall@5", "recall@10", "mrr", "source_cited", "citation_precision", "citation_recall",
    "first_token_median_s", "first_token_p90_s", "total_median_s", "total_p90_s", "prompt_tokens_mean",
    "new_prompt_tokens_median", "declined_by",
}


def _shares_are_sane(metrics: dict):
    assert set(metrics) == METRICS
    # Declines counted by cause, [unanswerable, answerable] each: no more than the questions.
    assert set(metrics["declined_by"]) == set(DECLINED_BY)
    assert sum(sum(counts) for counts in metrics["declined_by"].values()) <= metrics["count"]
    for key, value in metrics.items():
        if value is not None and key not in ("count", "declined_by") and not key.endswith("_s") \
                and "prompt_tokens" not in key:
            assert 0.0 <= value <= 1.0, (key, value)


@pytest.fixture(scope="module")
def slice_report(seed_index, tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-slice")
    lines = [line for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if json.loads(line)["id"] in SLICE]
    (folder / "slice.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = folder / "report.json"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["--index-dir", str(seed_index), "eval", "--set", str(folder / "slice.jsonl"),
                     "--json", str(out)]) == 0
    return out, printed.getvalue()


@pytest.mark.slow  # slice_report runs a real eval: it loads the generator
def test_eval_slice_report_has_every_row_and_sane_values(slice_report, seed_index):
    path, printed = slice_report
    report = json.loads(path.read_text(encoding="utf-8"))
    meta = report["meta"]
    assert meta["settings"]["index_dir"] == str(seed_index)
    assert meta["generator"] == {"name": "qwen2.5-coder-1.5b", "sha256": GENERATORS["qwen2.5-coder-1.5b"].sha256}
    assert meta["embedding_model"] == "all-MiniLM-L6-v2" and "git_commit" in meta  # None outside a git checkout
    assert meta["machine"]["cores"] >= 1 and meta["machine"]["cpu"] and meta["machine"]["llama_cpp_python"]
    assert meta["index"]["articles"] == 5 and meta["index"]["chunks"] > 5
    assert meta["question_set"]["path"].endswith("slice.jsonl")

    fact, outside = report["rows"]
    assert (fact["id"], outside["id"]) == SLICE
    # Retrieval is deterministic: the Astana article is in the ranking, and the prompt's passages are its top.
    assert fact["gold_rank"] is not None and fact["recall@10"] == 1.0
    assert len(fact["retrieved"]) == 10
    assert not fact["abstained"] and fact["prompt_tokens"] > 100
    # what the model read: all of the prompt, or its new part after a cached prefix
    assert 0 < fact["new_prompt_tokens"] <= fact["prompt_tokens"]
    assert 0 < fact["retrieval_s"] <= fact["first_token_s"] <= fact["total_s"]
    # graded against q001's gold sentences, never by the pipeline's own support rule
    assert fact["cited_sentences"] >= 1 and 0 <= fact["cited_on_evidence"] <= fact["cited_sentences"]
    assert fact["citations_cover_gold"] in (True, False) and fact["split"] == "dev"
    assert outside["abstained"] and outside["correct"] and outside["cited_sentences"] is None
    assert outside["declined_by"] in DECLINED_BY and fact["declined_by"] is None  # what declined it, if anything

    summary = report["summary"]
    assert list(summary["by_kind"]) == ["fact", "unanswerable_out_of_domain"]
    assert list(summary["by_split"]) == ["dev", "test"]  # q001 is dev, q068 test
    for metrics in [summary["overall"], *summary["by_kind"].values(), *summary["by_split"].values()]:
        _shares_are_sane(metrics)
    assert summary["overall"]["count"] == 2 and summary["overall"]["abstention"] == 1.0

    assert "retrieval and citations" in printed and f"report written to {path}" in printed


@pytest.mark.slow
def test_eval_squad_sample_builds_its_own_index(tmp_path):
    out = tmp_path / "squad.json"
    assert main(["eval", "--squad", str(SQUAD), "--limit", "2", "--seed", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    # random.Random(2)'s sample, one answerable and one not, in file order
    assert [r["id"] for r in report["rows"]] == ["vb1", "vb3"]
    assert report["meta"]["squad"] | {"path": None} == {
        "path": None, "version": "v2.0", "paragraphs": 3, "questions": 6, "skipped": [], "kind": None, "limit": 2,
        "seed": 2}
    assert report["meta"]["index"]["articles"] == 3 and report["meta"]["index"]["path"] is None
    answerable = report["rows"][0]
    # Three paragraphs: the ten-deep ranking holds every passage, so the gold one too.
    assert answerable["recall@10"] == 1.0 and answerable["gold_sources"] == ["000_Veltmar_Harbour_Bridge_000.txt"]
    assert list(report["summary"]["by_kind"]) == ["squad", "unanswerable_squad"]
    _shares_are_sane(report["summary"]["overall"])


@pytest.mark.slow
def test_eval_with_distractors_asks_the_seed_questions_over_seeds_and_paragraphs(tmp_path):
    out = tmp_path / "crowded.json"
    assert main(["eval", "--distractors", str(SQUAD), "--limit", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["meta"]["index"]["articles"] == 5 + 3 and report["meta"]["index"]["path"] is None
    assert report["meta"]["settings"]["index_dir"] is None  # not the configured index, which was not asked
    assert report["meta"]["distractors"] == str(SQUAD)
    (row,) = report["rows"]
    # the seed article that answers still ranks among the paragraphs put beside it
    assert row["id"] == "q001" and row["gold_rank"] is not None


@pytest.mark.slow
def test_eval_of_squad_with_a_folder_of_distractors_indexes_its_articles_beside_the_paragraphs(tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    (news / "floods.txt").write_text("Floods closed the Hume Highway near Goulburn on Tuesday.\n", encoding="utf-8")
    out = tmp_path / "crowded-squad.json"
    assert main(["eval", "--squad", str(SQUAD), "--distractors", str(news), "--limit", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["meta"]["index"]["articles"] == 3 + 1 and report["meta"]["distractors"] == str(news)
    assert report["meta"]["squad"]["limit"] == 2 and len(report["rows"]) == 2


@pytest.mark.slow
def test_eval_with_a_folder_of_distractors_indexes_its_articles_beside_the_seeds(tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    (news / "floods.txt").write_text("Floods closed the Hume Highway near Goulburn on Tuesday.\n", encoding="utf-8")
    (news / "cricket.txt").write_text("Australia won the third Test in Adelaide by 48 runs.\n", encoding="utf-8")
    out = tmp_path / "crowded.json"
    assert main(["eval", "--distractors", str(news), "--limit", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["meta"]["index"]["articles"] == 5 + 2 and report["meta"]["distractors"] == str(news)
    assert [r["id"] for r in report["rows"]] == ["q001"]


BRIDGE = "The Veltmar harbour bridge cost 40 million euros."


def _set_over_other_articles(tmp_path) -> tuple[Path, Path, Path]:
    """A question set over a folder of two articles that are not the seeds, and a folder of two
    distractors: (set, articles, distractors)."""
    articles, distractors = tmp_path / "articles", tmp_path / "distractors"
    articles.mkdir()
    distractors.mkdir()
    text = f"Bridge opens\n\n{BRIDGE} It opened on 3 May.\n"
    (articles / "bridge.txt").write_text(text, encoding="utf-8")
    (articles / "orchard.txt").write_text("Orchard\n\nThe Lindholm orchard lost its apple harvest to frost.\n",
                                          encoding="utf-8")
    (distractors / "floods.txt").write_text("Floods closed the Hume Highway near Goulburn on Tuesday.\n",
                                            encoding="utf-8")
    (distractors / "cricket.txt").write_text("Australia won the third Test in Adelaide by 48 runs.\n",
                                             encoding="utf-8")
    start = text.index(BRIDGE)
    rows = [{"id": "b1", "question": "How much did the Veltmar harbour bridge cost?", "answers": ["40 million euros"],
             "sources": ["bridge.txt"], "kind": "fact", "split": "dev",
             "evidence": [{"source": "bridge.txt", "start": start, "end": start + len(BRIDGE)}]},
            {"id": "b2", "question": "What is the capital of Peru?", "answers": [], "sources": [],
             "kind": "unanswerable_out_of_domain", "split": "test"}]
    question_set = tmp_path / "set.jsonl"
    question_set.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return question_set, articles, distractors


def _best_passage_as_answer(question, *, index_dir, history, settings):
    """rag.ask with the model's part faked: the best passage of the real retrieval, as the answer."""
    from rag.embedding import load_embedder
    from rag.index import load_index
    from rag.retrieval import retrieve

    index = load_index(index_dir, settings.embedding_model)
    hits = retrieve(question, index, load_embedder(settings.embedding_model, settings.models_dir), 1, None, history)
    return Answer(question=question, text=hits[0].chunk.text, citations=[], abstained=False,
                  timings=Timings(retrieval=0.0, first_token=None, total=0.0), hits=hits)


def test_eval_with_distractors_asks_a_set_over_its_own_articles(tmp_path, monkeypatch, capsys):
    """--articles names the folder of the set's articles: the offsets are checked against it and
    the throwaway index holds it beside the distractors. Without it the set was checked against
    seeds/ and refused, so a set over other articles (eval/news/) could not be asked in a crowd."""
    monkeypatch.setattr("rag.generation.load_generator", lambda settings: None)
    monkeypatch.setattr("rag.pipeline.ask", _best_passage_as_answer)
    question_set, articles, distractors = _set_over_other_articles(tmp_path)
    out = tmp_path / "crowded.json"
    run = ["eval", "--set", str(question_set), "--distractors", str(distractors), "--json", str(out)]
    assert main(run) == 2
    assert f"source 'bridge.txt' is not an article of {PROJECT_DIR / 'seeds'}" in capsys.readouterr().err

    assert main([*run, "--articles", str(articles)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["meta"]["index"]["articles"] == 2 + 2 and report["meta"]["index"]["path"] is None
    assert report["meta"]["distractors"] == str(distractors)
    assert report["meta"]["question_set"]["articles"] == str(articles)  # for eval/replay_checks.py
    fact, outside = report["rows"]
    assert (fact["id"], outside["id"]) == ("b1", "b2")
    assert fact["gold_rank"] == 1 and fact["correct"] and not outside["correct"]
    assert {hit["source"] for hit in fact["retrieved"]} == {"bridge.txt", "orchard.txt", "floods.txt", "cricket.txt"}


@pytest.mark.parametrize("extra, says", [
    (["--kind", "nope"], "no question of kind 'nope'"),
    (["--set", "missing.jsonl"], "missing.jsonl"),
    ([], "no article files in"),  # the folder of distractors is empty
])
def test_eval_with_distractors_refuses_bad_arguments_before_building_the_index(tmp_path, monkeypatch, capsys, extra,
                                                                                 says):
    """Found by fuzzing: these were refused only after the throwaway index was embedded (minutes
    for a SQuAD file), and an empty folder of distractors was not refused at all."""
    def built(*_, **__):
        raise AssertionError("the index was built")

    monkeypatch.setattr("rag.evaluation.squad.throwaway_index", built)
    empty = tmp_path / "empty"
    empty.mkdir()
    distractors = empty if not extra else SQUAD
    assert main(["eval", "--distractors", str(distractors), *extra, "--json", str(tmp_path / "r.json")]) == 2
    assert says in capsys.readouterr().err


def test_a_report_path_that_cannot_be_written_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    """Found by fuzzing: a folder or a path under a file as --json failed only after the whole
    run (exit 1), and every answer was lost."""
    def asked(*_, **__):
        raise AssertionError("the questions were asked")

    monkeypatch.setattr("rag.evaluation.runner.evaluate", asked)
    (tmp_path / "file").write_text("x")
    for out in (tmp_path, tmp_path / "file" / "report.json"):
        assert main(["eval", "--split", "dev", "--json", str(out)]) == 2
        assert f"cannot write the report to {out}" in capsys.readouterr().err


def test_a_set_whose_evidence_does_not_fit_its_articles_is_refused_before_any_model_loads(seed_index, tmp_path,
                                                                                           monkeypatch, capsys):
    """`rag eval --set` read the set without its articles, so evidence past an article's end was
    accepted, and every citation of that question graded wrong whatever it cited. The articles
    are the folder the index records, or with --distractors the seeds."""
    asked = []

    def evaluate(questions, **_):
        asked.append(len(questions))
        return {"meta": {}, "rows": [], "summary": summarize([])}

    def built(*_, **__):
        raise AssertionError("the index was built")

    monkeypatch.setattr("rag.evaluation.runner.evaluate", evaluate)
    monkeypatch.setattr("rag.evaluation.squad.throwaway_index", built)
    row = json.loads(QUESTIONS.read_text(encoding="utf-8").splitlines()[0])
    row["evidence"][0]["end"] = 1_000_000
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = str(tmp_path / "r.json")
    for args in (["--index-dir", str(seed_index), "eval", "--set", str(bad)],
                 ["eval", "--set", str(bad), "--distractors", str(SQUAD)]):
        assert main([*args, "--json", out]) == 2
        assert f"{bad}, line 1: evidence ends at character 1000000, past the end of" in capsys.readouterr().err
    assert asked == []
    # The shipped set fits its articles, as indexed (seed_index records seeds/).
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--index-dir", str(seed_index), "eval", "--split", "test", "--json", out]) == 0
    assert asked == [40]


def test_eval_with_distractors_named_as_a_seed_article_is_refused(tmp_path, capsys):
    news = tmp_path / "news"
    news.mkdir()
    seed = next(p.name for p in sorted((PROJECT_DIR / "seeds").iterdir()) if p.suffix == ".txt")
    (news / seed).write_text("Another article under the same name.\n", encoding="utf-8")
    assert main(["eval", "--distractors", str(news), "--json", str(tmp_path / "unused.json")]) == 2
    assert f"two articles would be named {seed}" in capsys.readouterr().err
    assert not (tmp_path / "unused.json").exists()


def test_eval_with_distractors_named_as_one_of_the_set_s_articles_is_refused(tmp_path, monkeypatch, capsys):
    def built(*_, **__):
        raise AssertionError("the index was built")

    monkeypatch.setattr("rag.pipeline.build_index", built)
    question_set, articles, distractors = _set_over_other_articles(tmp_path)
    (distractors / "bridge.txt").write_text("Another article under the same name.\n", encoding="utf-8")
    assert main(["eval", "--set", str(question_set), "--articles", str(articles), "--distractors", str(distractors),
                 "--json", str(tmp_path / "unused.json")]) == 2
    assert "two articles would be named bridge.txt" in capsys.readouterr().err
    assert not (tmp_path / "unused.json").exists()


def test_eval_with_distractors_outside_a_checkout_names_the_missing_articles(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("rag.cli.SEED_ARTICLES", tmp_path / "seeds")
    assert main(["eval", "--distractors", str(SQUAD), "--json", str(tmp_path / "unused.json")]) == 2
    assert f"no folder {tmp_path / 'seeds'}" in capsys.readouterr().err
    assert not (tmp_path / "unused.json").exists()


@pytest.mark.slow  # slice_report runs a real eval: it loads the generator
def test_eval_compare_of_a_report_with_itself_changes_nothing(slice_report, capsys):
    path, _ = slice_report
    assert main(["eval", "--compare", str(path), str(path)]) == 0
    printed = capsys.readouterr().out
    assert "unchanged (same answer text, same outcomes): 2 questions" in printed
    assert "improved" not in printed and "regressed" not in printed


@pytest.mark.parametrize("args, message", [
    (["eval", "--seed", "1"], "--seed only applies to --squad"),
    (["eval", "--squad", str(SQUAD), "--index", "somewhere"], "--index does not apply to --squad"),
    (["eval", "--squad", str(SQUAD), "--split", "test"], "--split does not apply to --squad"),
    (["eval", "--distractors", str(SQUAD), "--index", "somewhere"], "--distractors builds its own index"),
    # the set's articles are the folder the index was built from, or a SQuAD file's paragraphs
    (["eval", "--articles", "somewhere"], "--articles only applies to --distractors"),
    (["eval", "--index", "somewhere", "--articles", "somewhere"], "--articles only applies to --distractors"),
    (["eval", "--squad", str(SQUAD), "--articles", "somewhere"], "--articles does not apply to --squad"),
    (["eval", "--squad", str(SQUAD), "--distractors", str(SQUAD)], "with --squad, --distractors is a folder"),
    (["eval", "--squad", str(SQUAD), "--distractors", "nowhere"], "with --squad, --distractors is a folder"),
    (["eval", "--kind", "trivia", "--json", "unused.json"], "no question of kind 'trivia'"),
    # options --compare silently ignored: the comparison seemed to be of what they named
    (["eval", "--compare", "a.json", "b.json", "--limit", "5"], "--limit does not apply to --compare"),
    (["eval", "--compare", "a.json", "b.json", "--index", "x", "--top-k", "3"],
     "--index, --top-k do not apply to --compare"),
    (["eval", "--compare", "a.json", "b.json", "--split", "test", "--kind", "fact"], "--split or --kind"),
])
def test_eval_usage_errors_exit_2(args, message, seed_index, capsys):
    assert main(["--index-dir", str(seed_index), *args]) == 2
    assert message in capsys.readouterr().err
