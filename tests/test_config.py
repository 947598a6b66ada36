"""Settings: defaults < file < environment < arguments, and clear refusals."""

import logging
import os
import subprocess
import sys

import pytest

from rag import config
from rag.config import PROJECT_DIR, Settings, load_settings
from rag.errors import BadInputError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_work_without_any_file():
    assert load_settings() == Settings()


def test_file_then_environment_then_arguments_take_precedence(tmp_path, monkeypatch):
    (tmp_path / "rag.toml").write_text('top_k = 6\nmin_relevance = 0.5\ngenerator = "qwen2.5-coder-0.5b"\n')
    monkeypatch.setenv("RAG_TOP_K", "7")
    settings = load_settings(top_k=3)
    assert (settings.top_k, settings.min_relevance, settings.generator) == (3, 0.5, "qwen2.5-coder-0.5b")
    assert load_settings().top_k == 7


def test_paths_are_paths(monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", "~/my-index")
    assert load_settings().index_dir.name == "my-index" and "~" not in str(load_settings().index_dir)


@pytest.mark.parametrize("content, message", [
    ("colour = 'blue'\n", "unknown settings"),
    ("top_k = 'many'\n", "top_k='many' is not a valid int"),
    ("top_k = 0\n", "top_k must be between 1 and 50"),
    ("backend = 'onnx'\n", "backend must be"),
    ("top_k = [\n", "cannot read settings file"),
    # Found by fuzzing: each of these raised another exception (or was read as something else).
    ("top_k = inf\n", "top_k=inf is not a valid int"),
    ("top_k = 4.9\n", "top_k=4.9 is not a valid int"),
    ("top_k = true\n", "top_k=True is not a valid int"),
    ("min_relevance = nan\n", "min_relevance=nan is not a valid float"),
    ("generator = [1, 2]\n", "generator=\\[1, 2\\] is not a valid str"),
    ("index_dir = '~nosuchuser-rag/x'\n", "index_dir='~nosuchuser-rag/x' is not a valid Path"),
    ("top_k = " + "[" * 5000 + "]" * 5000 + "\n", "cannot read settings file .*RecursionError"),
    ("max_question_chars = -1\n", "max_question_chars must be at least 1"),
    ("threads = -2\n", "threads must be 0"),
    # Found by probing: each of these was accepted and made an absurd run (or wrapped in llama.cpp).
    ("index_dir = ' '\n", "index_dir=' ' is not a valid Path"),
    ("threads = 4294967298\n", "threads must be 0 .* to 512, not 4294967298"),
    ("context_tokens = 1000000000000\n", "context_tokens must be at most 32768, not 1000000000000"),
    ("min_relevance = 2.0\n", "min_relevance must be between -1 and 1"),
    ("relevance_gap = -0.5\n", "relevance_gap must be 0"),
])
def test_bad_settings_are_refused_by_name(tmp_path, content, message):
    (tmp_path / "rag.toml").write_text(content)
    with pytest.raises(BadInputError, match=message):
        load_settings()


def test_a_refusal_names_where_the_value_was_set(tmp_path, monkeypatch):
    """With a settings file and the environment both in play, "top_k must be between 1 and 50"
    did not say which one to fix."""
    (tmp_path / "rag.toml").write_text("top_k = 5\nchunk_overlap = 64\nthreads = 'all'\n")
    with pytest.raises(BadInputError, match=r"threads='all' is not a valid int \(set in settings file rag.toml\)"):
        load_settings()
    monkeypatch.setenv("RAG_THREADS", "2")
    monkeypatch.setenv("RAG_TOP_K", "0")
    with pytest.raises(BadInputError, match=r"top_k must .* not 0 \(set in environment variable RAG_TOP_K\)$"):
        load_settings()
    with pytest.raises(BadInputError, match=r"not 99 \(set in the arguments\)$"):
        load_settings(top_k=99)
    monkeypatch.setenv("RAG_CHUNK_TOKENS", "64")
    with pytest.raises(BadInputError, match=r"\(set in environment variable RAG_CHUNK_TOKENS, settings file rag.toml"):
        load_settings(top_k=4)


def test_a_settings_file_that_is_not_utf8_is_refused_and_an_empty_rag_config_is_unset(tmp_path, monkeypatch):
    (tmp_path / "rag.toml").write_bytes(b"generator = '\xff'\n")
    with pytest.raises(BadInputError, match="cannot read settings file .*UnicodeDecodeError"):
        load_settings()
    monkeypatch.setenv("RAG_CONFIG", "")
    (tmp_path / "rag.toml").write_text("top_k = 3\n")
    assert load_settings().top_k == 3  # the folder's rag.toml, as when RAG_CONFIG is not set


def test_a_misspelt_variable_is_warned_of_once_naming_the_one_meant(tmp_path, monkeypatch, caplog):
    """RAG_TOPK=6 was ignored without a word. A RAG_ variable that is no setting is no error: the
    prefix is shared (RAG_UI_AUTH, perhaps other tools' variables)."""
    monkeypatch.setattr(config, "_warned", set())
    (tmp_path / "other.toml").write_text("top_k = 5\n")
    for name, value in [("RAG_TOPK", "6"), ("RAG_min_relevance", "0.5"), ("RAG_CONFIG", "other.toml"),
                        ("RAG_UI_AUTH", "reader:secret"), ("RAG_UI_AUHT", "reader:secret"), ("RAG_API_KEY", "k"),
                        ("RAG_HOST", "h"), ("RAG_DATA_DIR", "d"), ("RAG_INDEX_DIR", str(tmp_path))]:
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="rag.config"):
        assert load_settings() == load_settings() == Settings(index_dir=tmp_path, top_k=5)
    assert [record.getMessage() for record in caplog.records] == [
        "environment variable RAG_TOPK is not read (no setting has that name): did you mean RAG_TOP_K?",
        # the login the CLI reads is known too
        "environment variable RAG_UI_AUHT is not read (no setting has that name): did you mean RAG_UI_AUTH?",
        "environment variable RAG_min_relevance is not read (no setting has that name): did you mean "
        "RAG_MIN_RELEVANCE?"]


def test_the_command_line_shows_the_warning_on_stderr(tmp_path):
    environment = {**os.environ, "RAG_TOPK": "6"}  # the fixture left no other RAG_ variable
    result = subprocess.run([sys.executable, "-m", "rag.cli", "--index-dir", str(tmp_path / "index"), "index",
                             str(tmp_path / "none"), "--dry-run"], capture_output=True, text=True, timeout=120,
                            cwd=PROJECT_DIR, env=environment)
    assert result.returncode == 2 and "no such folder" in result.stderr  # the warning is no error
    assert result.stderr.count("WARNING: environment variable RAG_TOPK is not read") == 1
    assert "did you mean RAG_TOP_K?" in result.stderr
