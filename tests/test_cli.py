"""The `rag` command as a user runs it: output, JSON and exit codes."""

import importlib.metadata
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import ISTANBUL, SEEDS
from rag.index import DATABASE


def rag_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_ask_json_prints_the_whole_answer(seed_index):
    result = rag_cli("--index-dir", str(seed_index), "ask", "What came out of the May 2025 Istanbul talks?", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"text", "citations", "abstained", "timings"}
    assert answer["abstained"] is False and "prisoner" in answer["text"].lower()
    assert ISTANBUL in {c["source"] for c in answer["citations"]}
    assert set(answer["citations"][0]) >= {"n", "source", "title", "chunk_id", "quote", "start", "end"}
    assert answer["timings"]["total"] > 0


def test_empty_question_exits_2_with_a_message(seed_index):
    result = rag_cli("--index-dir", str(seed_index), "ask", "  ")
    assert result.returncode == 2 and "question is empty" in result.stderr


def test_missing_index_exits_2_and_says_how_to_build_it(tmp_path):
    result = rag_cli("--index-dir", str(tmp_path / "none"), "ask", "What happened in Istanbul?")
    assert result.returncode == 2 and "rag index" in result.stderr


def test_indexing_an_empty_folder_exits_2(tmp_path):
    result = rag_cli("--index-dir", str(tmp_path / "index"), "index", str(tmp_path))
    assert result.returncode == 2 and "error:" in result.stderr
    assert not (tmp_path / "index").exists()


def _no_model(*_):
    raise AssertionError("a model was loaded")


def test_a_missing_or_empty_folder_is_refused_before_any_model_loads(tmp_path, monkeypatch, capsys):
    """Found by fuzzing: `rag index` and its dry run loaded the embedding model (seconds) before
    saying the folder was not there."""
    from rag.cli import main

    monkeypatch.setattr("rag.sync.load_embedder", _no_model)
    monkeypatch.setattr("rag.embedding.load_embedder", _no_model)
    for args in (["index", str(tmp_path / "none")], ["index", str(tmp_path / "none"), "--dry-run"],
                 ["index", str(tmp_path), "--dry-run"]):
        assert main(["--index-dir", str(tmp_path / "index"), *args]) == 2
        assert "no such folder" in capsys.readouterr().err or args[1] == str(tmp_path)


@pytest.mark.parametrize("damage", ["not a database", "no tables", "meta not JSON"])
def test_a_dry_run_over_a_damaged_index_says_it_is_damaged(tmp_path, monkeypatch, capsys, damage):
    """It said the index held 0 articles (and, for meta that is not JSON, ended in a traceback)."""
    from rag.cli import main

    monkeypatch.setattr("rag.sync.load_embedder", _no_model)  # the damage is told first
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    database = index_dir / DATABASE
    if damage == "not a database":
        database.write_bytes(b"not a database, a page of text\n" * 200)
    else:
        with sqlite3.connect(database) as db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            if damage == "meta not JSON":
                db.execute("INSERT INTO meta VALUES ('format', '{')")
    before = database.read_bytes()
    assert main(["--index-dir", str(index_dir), "index", str(SEEDS), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert f"the index at {index_dir} is damaged" in error and "rebuild it with `rag index DIR`" in error
    assert database.read_bytes() == before


def test_bad_usage_exits_2():
    assert rag_cli("ask").returncode == 2
    for command in ("serve", "ui"):  # a port out of range was an OverflowError, exit 1
        result = rag_cli(command, "--port", "70000")
        assert result.returncode == 2 and "invalid port value: '70000'" in result.stderr


def test_a_question_that_is_not_utf8_exits_2_with_a_message(tmp_path):
    # Bytes that are not UTF-8 reach Python's argv as lone surrogates; they used to end in an
    # internal error when the tokenizer met them.
    result = subprocess.run([sys.executable, "-m", "rag.cli", "--index-dir", str(tmp_path), "ask", b"caf\xe9?"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "not valid text" in result.stderr, result.stderr


def test_an_index_file_that_is_not_a_database_is_a_damaged_index(tmp_path):
    (tmp_path / "index.sqlite").write_text("[1, 2]" * 1000, encoding="utf-8")
    result = rag_cli("--index-dir", str(tmp_path), "ask", "What happened in Istanbul?")
    assert result.returncode == 2, result.stderr
    assert "damaged (DatabaseError: file is not a database): rebuild it with `rag index DIR`" in result.stderr


def test_verbose_shows_the_traceback_of_an_internal_error(tmp_path, monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rag.pipeline, "build_index", broken)
    assert main(["index", str(tmp_path)]) == 1
    quiet = capsys.readouterr().err
    assert "internal error: RuntimeError: disk on fire (run with -v for details)" in quiet
    assert "Traceback" not in quiet
    assert main(["-v", "index", str(tmp_path)]) == 1
    verbose = capsys.readouterr().err
    assert "Traceback (most recent call last)" in verbose and 'raise RuntimeError("disk on fire")' in verbose


def test_chat_goes_on_after_a_line_that_is_not_utf8(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rag.cli", "--index-dir", str(tmp_path), "chat"],
                            input=b"caf\xe9?\n\n", capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert b"not" in result.stderr and b"UTF-8" in result.stderr  # said, then the empty line ended the chat


@pytest.mark.slow
@pytest.mark.parametrize("after", [0, 5], ids=["at once", "while the model reads its instructions"])
def test_a_chat_ended_while_the_models_warm_up_ends_cleanly(seed_index, after):
    # Ended while the warm-up was in the model, the process crashed (segmentation fault); ended
    # while it imported, it printed a traceback.
    chat = subprocess.Popen([sys.executable, "-m", "rag.cli", "--index-dir", str(seed_index), "chat"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if after:
        import time

        time.sleep(after)
    out, err = chat.communicate("\n", timeout=300)
    assert chat.returncode == 0 and "Traceback" not in err, err


def test_chat_says_so_when_an_answer_breaks_off_and_goes_on(monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main

    def broken_off(question, **kwargs):  # words, then no checked Answer
        yield "The talks"

    monkeypatch.setattr(rag.pipeline, "ask_stream", broken_off)
    monkeypatch.setattr("sys.stdin", io.StringIO("What happened?\nAnd then?\n\n"))
    assert main(["chat"]) == 0
    err = capsys.readouterr().err
    assert err.count("ended before the answer was checked") == 2  # both questions were asked
    assert "not checked against the articles" in err


def test_chat_says_when_a_declined_yes_no_question_is_asked_once_more(monkeypatch, capsys):
    """The reply asked for after "The articles do not say." takes seconds on a slow CPU; the chat
    says why nothing comes, then shows the answer it became."""
    import rag.pipeline
    from rag.cli import main
    from rag.schema import Answer, Correcting, Timings

    def corrected(question, **kwargs):
        yield "The articles do not say."
        yield Correcting()
        yield Answer(question, "No, in fact, he was 91 [1].", [], False, Timings(0.1, 1.0, 3.0))

    monkeypatch.setattr(rag.pipeline, "ask_stream", corrected)
    monkeypatch.setattr("sys.stdin", io.StringIO("Was he 85 when he died?\n\n"))
    assert main(["chat"]) == 0
    out, err = capsys.readouterr()
    assert "asking the model once more" in err
    assert "> The articles do not say.\n\nNo, in fact, he was 91 [1].\n" in out  # the checked answer after it


def test_version_and_examples_in_help():
    assert rag_cli("--version").stdout.strip() == f"rag {importlib.metadata.version('rag-news')}"
    assert 'rag ask "What came out of the May 2025 Istanbul talks?"' in rag_cli("--help").stdout
    assert "rag index library --dry-run --json" in rag_cli("index", "--help").stdout


def test_help_names_every_file_type_the_index_reads():
    """The help once listed the types by hand and missed `.mhtml` when it was added."""
    from rag.loading import SUPPORTED_SUFFIXES

    listed = set(re.findall(r"\.[a-z]+\b", rag_cli("--help").stdout))
    assert set(SUPPORTED_SUFFIXES) <= listed


def test_index_prints_what_it_did_as_json(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEEDS / ISTANBUL, folder)
    result = rag_cli("--index-dir", str(tmp_path / "index"), "index", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["articles"], info["embedded"], info["removed"]) == (1, 1, 0) and info["chunks"] > 0


def test_index_watch_prints_each_sync_as_a_line_of_json_until_interrupted(tmp_path):
    import signal

    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEEDS / ISTANBUL, folder)
    watcher = subprocess.Popen([sys.executable, "-m", "rag.cli", "--index-dir", str(tmp_path / "index"), "index",
                                str(folder), "--watch", "0.2", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(watcher.stdout.readline())
        (folder / "cod.txt").write_text("Norway and Iceland agree cod quota.\n", encoding="utf-8")
        second = json.loads(watcher.stdout.readline())
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert (first["articles"], first["embedded"]) == (1, 1) and (second["articles"], second["embedded"]) == (2, 1)
    assert watcher.returncode == 0 and out == "" and "stopped watching" in err


@pytest.mark.parametrize("options, reason", [(["--watch", "0"], "--watch takes the seconds between looks"),
                                             (["--watch", "--dry-run"], "--dry-run changes nothing")])
def test_index_watch_refuses_what_cannot_be_watched(tmp_path, options, reason):
    shutil.copy(SEEDS / ISTANBUL, tmp_path)
    result = rag_cli("--index-dir", str(tmp_path / "index"), "index", str(tmp_path), *options)
    assert result.returncode == 2 and reason in result.stderr


def test_ask_quotes_the_sentences_each_citation_rests_on_and_lists_what_it_left_out(monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main
    from rag.schema import Answer, Citation, Timings

    quote = "They met in Istanbul. They swapped 1,000 prisoners. Talks go on."
    cited = Citation(1, "a.txt", "Talks", "a-0", quote, 100, 100 + len(quote), highlights=[(100, 121), (122, 151)])
    dated = Citation(2, "nexis.docx#2", "Talks end", "b-0", "Talks go on.", 0, 12, highlights=[(0, 12)],
                     outlet="The Guardian", date="2025-05-16", page=3, url="https://news.example/talks")

    def answered(question, **kwargs):
        yield Answer(question, "They met in Istanbul [1] and swapped prisoners [1]. Talks go on [2].", [cited, dated],
                     False, Timings(), unsupported=["They signed a treaty."])

    monkeypatch.setattr(rag.pipeline, "ask_stream", answered)
    assert main(["ask", "What happened?"]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        "[1] Talks (a.txt, chars 100-164)", "    “They met in Istanbul.”", "    “They swapped 1,000 prisoners.”",
        "[2] Talks end (The Guardian, 2025-05-16, page 3; nexis.docx#2, chars 0-12; https://news.example/talks)",
        "    “Talks go on.”", "", "Left out, no passage supports it: They signed a treaty."]


def test_ask_prints_markdown_to_keep_with_its_sources_as_references(monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main
    from rag.schema import Answer, Citation, Timings

    quote = "They met in Istanbul. They swapped 1,000 prisoners."
    cited = Citation(1, "nexis.docx#2", "Talks *end*", "a-0", quote, 0, len(quote), highlights=[(22, 51)],
                     outlet="The Guardian", date="2025-05-16")

    def answered(question, **kwargs):
        yield Answer(question, "They swapped prisoners [1].", [cited], False, Timings())

    monkeypatch.setattr(rag.pipeline, "ask_stream", answered)
    assert main(["ask", "What came of the talks?", "--markdown", "--since", "2025"]) == 0
    assert capsys.readouterr().out == (
        "## What came of the talks? \\(among the articles dated 2025 or later\\)\n\n"
        "They swapped prisoners [1].\n\n"
        "[1] Talks \\*end\\* \\(The Guardian, 2025-05-16; nexis.docx#2, chars 0-51\\)\n"
        "    > “They swapped 1,000 prisoners.”\n")


def test_ask_says_when_a_second_opinion_withdrew_the_answer(monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main
    from rag.schema import Answer, Timings

    def withdrawn(question, **kwargs):
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, 1.5, 9.0),
                     withdrawn=["Prisoners were swapped."], samples_disagreeing=2, samples_drawn=2,
                     declined_by="second_opinion")

    monkeypatch.setattr(rag.pipeline, "ask_stream", withdrawn)
    assert main(["ask", "What was agreed?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The articles do not say.")
    assert "Withdrawn (asked again, the model said something else in 2 of 2 replies): Prisoners were swapped." in out


def test_ask_says_what_declined_the_question(monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main
    from rag.schema import Answer, Timings

    def declined(question, **kwargs):
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, None, 0.05), declined_by="retrieval")

    monkeypatch.setattr(rag.pipeline, "ask_stream", declined)
    assert main(["ask", "What is the capital of Australia?"]) == 0
    assert capsys.readouterr().out == ("The articles do not say.\n\n"
                                       "Why: no passage of the indexed articles is close to the question.\n")


def test_ask_says_when_the_model_hardly_preferred_yes_to_no(monkeypatch, capsys):
    import rag.pipeline
    from rag.cli import main
    from rag.schema import Answer, Timings

    def withdrawn(question, **kwargs):
        yield Answer(question, "The articles do not say.", [], True, Timings(0.05, 1.5, 3.0),
                     withdrawn=["Yes, Blackburn accepted the offer."], yes_margin=2.5,
                     declined_by="doubted_yes")

    monkeypatch.setattr(rag.pipeline, "ask_stream", withdrawn)
    assert main(["ask", "Did Blackburn accept the offer?"]) == 0
    assert ('Withdrawn (the model was not sure enough of its "Yes": it found it only 12 times as likely as "No"; '
            "a yes the articles state it says more surely): Yes, Blackburn accepted the offer."
            ) in capsys.readouterr().out


def test_articles_lists_what_a_search_finds_and_how_many(seed_index, capsys):
    from rag.cli import main

    assert main(["--index-dir", str(seed_index), "articles", "TRT", "2025-05"]) == 0  # its outlet, its date
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"2025-05-16  {ISTANBUL}  Istanbul talks: Russia-Ukraine war, Türkiye’s rise, and the "
                                "quest for peace (TRT World)"]
    assert err.strip() == "1 article matches “TRT 2025-05”"
    assert main(["--index-dir", str(seed_index), "articles", "GRAIN", "corridor"]) == 0  # words of its text
    out, err = capsys.readouterr()
    assert [line.split()[1] for line in out.splitlines()] == ["003_1ca7cd9bf0959689.txt"]
    assert main(["--index-dir", str(seed_index), "articles", "--limit", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    found = json.loads(out)
    assert found["total"] == 5
    assert [a["source"] for a in found["articles"]] == sorted(p.name for p in SEEDS.iterdir())[:2]
    assert main(["--index-dir", str(seed_index), "articles", "nothing-of-the-kind"]) == 0
    assert capsys.readouterr() == ("", "0 articles match “nothing-of-the-kind”\n")


def test_search_prints_the_passages_that_match_best_first_without_the_model(seed_index, capsys, monkeypatch):
    """On a slow machine, or to read the articles themselves, the passages come without an answer."""
    from rag import generation
    from rag.cli import main

    def no_model(*args, **kwargs):
        raise AssertionError("search loaded the generator")

    monkeypatch.setattr(generation, "load_generator", no_model)
    assert main(["--index-dir", str(seed_index), "search", "prisoner exchange", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"\[1\] 0\.\d\d  Istanbul talks: .* \(TRT World, 2025-05-16; {ISTANBUL}, chars \d+-\d+\)",
                        out[0])
    assert out[1].startswith("    “") and "prisoner" in out[1] and out[2].startswith("[2] ")
    assert main(["--index-dir", str(seed_index), "search", "Where did Putin and Erdogan meet in Kazakhstan?",
                 "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert 1 < len(found) <= 10 and [c["n"] for c in found] == list(range(1, len(found) + 1))
    assert found[0]["source"] == "000_011dc16fc288ae1d.txt" and all(0 < c["score"] < 1 for c in found)
    assert main(["--index-dir", str(seed_index), "search", "talks", "--limit", "51"]) == 2
    assert "limit must be a whole number from 1 to 50" in capsys.readouterr().err


def test_output_read_only_in_part_is_not_a_failure(seed_index, monkeypatch):
    """`rag articles | head -1`: the reader closing the pipe was an "internal error" (exit 1)."""
    from rag.cli import main

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone: writing raises BrokenPipeError
    closed = open(write_end, "w", encoding="utf-8", buffering=1)  # written line by line, as to a terminal
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        assert main(["--index-dir", str(seed_index), "articles", "--json"]) == 0
    finally:
        closed.close()
