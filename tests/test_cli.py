"""The `rag` command as a user runs it: output, JSON and exit codes."""

import json
import subprocess
import sys

from conftest import ISTANBUL


def rag_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, timeout=timeout)


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


def test_bad_usage_exits_2():
    assert rag_cli("ask").returncode == 2
