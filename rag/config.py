"""All settings in one place.

Precedence, lowest first: the defaults below, a TOML file (`rag.toml` in the working directory,
or the file named by RAG_CONFIG), environment variables `RAG_<FIELD>` (e.g. RAG_TOP_K=6), and
finally keyword arguments to `load_settings()` (which the CLI and the UI fill from their options).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from rag.errors import BadInputError

PROJECT_DIR = Path(__file__).resolve().parent.parent
# llama.cpp takes these in 32-bit fields, which wrap silently (context_tokens = 10**12 asked for a
# 3.5-billion-token cache, threads = 2**32 + 2 was read as 2): the generators here were trained
# on 32,768 tokens of context, and ggml runs at most 512 threads (GGML_MAX_N_THREADS).
MAX_CONTEXT_TOKENS = 32_768
MAX_THREADS = 512
# Passages shown to the model, at most: the settings and the HTTP API's per-request top_k both
# hold to it.
MAX_TOP_K = 50
# Replies sampled for a second opinion, at most (rag.consistency).
MAX_CONSISTENCY_SAMPLES = 9
# A RAG_ variable that nothing reads is warned of when what follows "RAG_" is this close (difflib's
# ratio) to a variable that is read: RAG_TOPK scores 0.89 against TOP_K, RAG_THREAD 0.92, while
# names that others may give the shared prefix (RAG_HOST, RAG_API_KEY, RAG_DATA_DIR, RAG_UI_AUTH)
# score 0.6 at most, and guesses such as RAG_MODEL or RAG_MAX_TOKENS 0.75 at most.
MISSPELLING_CUTOFF = 0.8
# The login `rag ui` and `rag serve` require when no --auth is given ("user:password"): read by
# rag.cli, named here so that a misspelling of it is warned of with the settings' own.
LOGIN_VARIABLE = "RAG_UI_AUTH"

log = logging.getLogger(__name__)
# Misspelt variables warned of in this process: every library call made without settings reads them.
_warned: set[str] = set()


@dataclass(frozen=True)
class Settings:
    # Where `rag index` writes and `rag ask` reads; the project's own index/ folder by default.
    index_dir: Path = PROJECT_DIR / "index"
    # Where assembled model files live; outside the project so a fresh clone can reuse them.
    models_dir: Path = Path(user_cache_dir("rag-news")) / "models"
    # Sentence-transformers model for passages and questions (see rag.models.EMBEDDING_MODELS), or
    # two joined by "+": "all-MiniLM-L6-v2+nomic-embed-text-v1.5" adds nomic's ranking (after
    # `rag models install --model nomic-embed-text-v1.5`; see rag.embedding.Joined).
    embedding_model: str = "all-MiniLM-L6-v2"
    # A stronger embedding model that re-ranks the fused candidates ("all-mpnet-base-v2", after
    # `rag models install --model all-mpnet-base-v2`); empty for none.
    rescore_model: str = ""
    # "llama_cpp" (GGUF, CPU-friendly) or "transformers" (a Hugging Face folder or a GGUF via gguf_file).
    backend: str = "llama_cpp"
    # A name from rag.models.GENERATORS, or a path to a .gguf file / Hugging Face model folder.
    generator: str = "qwen2.5-coder-1.5b"
    # Passages shown to the model, at most (see relevance_gap). Each costs ~150 prompt tokens, ~1 s on 2 CPU cores.
    top_k: int = 4
    # Of the top_k, passages whose cosine is more than this below the best one's are not shown
    # (rag.retrieval.within_reach; 0 shows all top_k). Measured with 0.1 (eval/HISTORY.md).
    relevance_gap: float = 0.1
    # Chunk size and overlap in embedding-model tokens; MiniLM reads at most 256. Measured on dev
    # and a SQuAD tuning sample (2026-11-24): 96 saves ~70 new prompt tokens but loses 5-10 points
    # of right answers, 160 loses 3-8 (eval/HISTORY.md, "Measured and not adopted").
    chunk_tokens: int = 128
    chunk_overlap: int = 32
    # Below this cosine similarity of the best passage, answer "the articles do not say"
    # without calling the model. Calibrated on eval/questions.jsonl (2026-11-22): out-of-domain
    # and injection questions peaked at 0.19, the lowest answerable (misspelt) one scored 0.27.
    min_relevance: float = 0.22
    # Also decline when rag.decline's calibrated model says the articles do not answer; only with
    # the generator it was fitted on (rag.decline.FITTED_FOR). What the current fit gains and costs
    # on the reported sets is in rag.decline's docstring (eval/HISTORY.md).
    calibrated_decline: bool = True
    # Replies the model samples for a second opinion on an answer the calibrated decline was unsure
    # of (rag.consistency; 0: none). Each costs about the answer's own writing time, on about half
    # the answers (eval/HISTORY.md, "Second opinions").
    consistency_samples: int = 3
    # Write the answer under rag.prompt.answer_grammar (llama.cpp only): its only brackets are
    # "[n]" markers of passages that exist. Same outcomes on dev and test, one more right answer
    # on the SQuAD sample; asides in parentheses are lost (eval/HISTORY.md).
    citation_grammar: bool = True
    # Questions longer than this are refused rather than silently truncated.
    max_question_chars: int = 1000
    # Answers are one to three sentences; the cap stops a rambling model early.
    max_answer_tokens: int = 160
    # Context window of the generator: the prompt (529-783 tokens on the seeds with top_k 4: README,
    # Measured figures) plus the answer fit easily.
    context_tokens: int = 4096
    # CPU threads for generation; 0 means one per core.
    threads: int = 0
    # Files larger than this are skipped at indexing time: news articles are far smaller.
    max_file_bytes: int = 5_000_000
    # The same for a dump or feed (many articles in one file): the 2,225 articles of a real
    # archive are a 5 MB CSV; each article in it is still held to max_file_bytes.
    max_archive_bytes: int = 500_000_000


# Each setting's type, as the dataclass declares it (a string under `from __future__ import annotations`).
_TYPES = {f.name: f.type for f in dataclasses.fields(Settings)}


def _coerce(name: str, raw, kind, origin: str):
    """Turn a TOML or environment value into the field's type, naming the field and where it was
    set (`origin`) when it fails."""
    if raw is None:
        return None
    try:
        if kind in ("bool", bool):
            if isinstance(raw, bool):
                return raw
            return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[str(raw).lower()]
        if isinstance(raw, bool):  # TOML's true is no number: top_k = true was read as 1
            raise TypeError
        if kind in ("int", int):
            if isinstance(raw, float) and not raw.is_integer():  # 4.9 was read as 4; inf overflowed
                raise ValueError
            return int(raw)
        if kind in ("float", float):
            value = float(raw)
            if not math.isfinite(value):  # min_relevance = nan turned the early decline off
                raise ValueError
            return value
        if isinstance(raw, os.PathLike):
            raw = os.fspath(raw)
        if not isinstance(raw, str):  # generator = [1, 2] was read as the text "[1, 2]"
            raise TypeError
        if kind not in ("Path", Path):
            return raw
        if not raw.strip():  # RAG_INDEX_DIR="" was the working directory: an index written there
            raise ValueError
        return Path(raw).expanduser()  # RuntimeError for "~nosuchuser/x"
    except (TypeError, ValueError, KeyError, RuntimeError):
        raise BadInputError(f"setting {name}={raw!r} is not a valid {getattr(kind, '__name__', kind)} "
                            f"(set in {origin})") from None


def load_settings(config_file: str | Path | None = None, **overrides) -> Settings:
    """Defaults < file < environment < overrides (None values in overrides are ignored)."""
    values: dict = {}
    # Where each value came from, for the errors: with a file and the environment both in play,
    # "top_k must be between 1 and 50" did not say which to fix.
    origin: dict[str, str] = {}

    path = config_file or os.environ.get("RAG_CONFIG") or None  # RAG_CONFIG="" is unset
    if path is None and Path("rag.toml").is_file():
        path = "rag.toml"
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        # ValueError: TOML's own errors and text that is not UTF-8; RecursionError: arrays nested
        # thousands deep.
        except (OSError, ValueError, RecursionError) as exc:
            raise BadInputError(f"cannot read settings file {path}: {type(exc).__name__}: {exc}") from None
        unknown = set(data) - set(_TYPES)
        if unknown:
            raise BadInputError(f"unknown settings in {path}: {sorted(unknown)}; valid: {sorted(_TYPES)}")
        values.update(data)
        origin.update(dict.fromkeys(data, f"settings file {path}"))

    variables = {name: f"RAG_{name.upper()}" for name in _TYPES}
    for name, variable in variables.items():
        env = os.environ.get(variable)
        if env is not None:
            values[name], origin[name] = env, f"environment variable {variable}"
    _warn_of_misspellings(["RAG_CONFIG", LOGIN_VARIABLE, *variables.values()])

    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    origin.update(dict.fromkeys(given, "the arguments"))
    unknown = set(values) - set(_TYPES)
    if unknown:
        raise BadInputError(f"unknown settings {sorted(unknown)}; valid: {sorted(_TYPES)}")

    typed = {name: _coerce(name, value, _TYPES[name], origin[name]) for name, value in values.items()}
    settings = Settings(**typed)
    _validate(settings, origin)
    return settings


def with_arguments(settings: Settings, **arguments) -> Settings:
    """`settings` with the values a call gives (None: keep), read and checked as load_settings
    reads and checks its arguments: `rag.ask(top_k=1000)` was taken as it was, `top_k=0` for
    the default."""
    given = {name: value for name, value in arguments.items() if value is not None}
    if not given:
        return settings
    changed = dataclasses.replace(settings, **{name: _coerce(name, value, _TYPES[name], "the arguments")
                                               for name, value in given.items()})
    _validate(changed, dict.fromkeys(given, "the arguments"))
    return changed


def _warn_of_misspellings(read: list[str]) -> None:
    """Warn, once a process, of each RAG_ variable that nothing reads but is close to one that is
    read (RAG_TOPK was ignored without a word). An unknown one is no error: the prefix may be
    shared with other tools' variables."""
    by_suffix = {variable.removeprefix("RAG_"): variable for variable in read}
    for name in sorted(os.environ):
        if name in read or name in _warned or not name.upper().startswith("RAG_"):
            continue
        meant = difflib.get_close_matches(name[4:].upper(), by_suffix, n=1, cutoff=MISSPELLING_CUTOFF)
        if meant:
            _warned.add(name)
            log.warning("environment variable %s is not read (no setting has that name): did you mean %s?",
                        name, by_suffix[meant[0]])


def _validate(s: Settings, origin: dict[str, str]) -> None:
    def refused(message: str, *names: str) -> BadInputError:
        where = sorted({origin[name] for name in names if name in origin})
        return BadInputError(f"{message} (set in {', '.join(where)})" if where else message)

    if s.backend not in ("llama_cpp", "transformers"):
        raise refused(f"backend must be 'llama_cpp' or 'transformers', not {s.backend!r}", "backend")
    if not 1 <= s.top_k <= MAX_TOP_K:
        raise refused(f"top_k must be between 1 and {MAX_TOP_K}, not {s.top_k}", "top_k")
    if not 0 <= s.chunk_overlap < s.chunk_tokens:
        raise refused(f"chunk_overlap ({s.chunk_overlap}) must be below chunk_tokens ({s.chunk_tokens})",
                      "chunk_overlap", "chunk_tokens")
    for name in ("max_question_chars", "max_answer_tokens", "context_tokens", "max_file_bytes", "max_archive_bytes"):
        if getattr(s, name) < 1:
            raise refused(f"{name} must be at least 1, not {getattr(s, name)}", name)
    if not 0 <= s.threads <= MAX_THREADS:
        raise refused(f"threads must be 0 (all cores) to {MAX_THREADS}, not {s.threads}", "threads")
    if s.context_tokens > MAX_CONTEXT_TOKENS:
        raise refused(f"context_tokens must be at most {MAX_CONTEXT_TOKENS}, not {s.context_tokens}", "context_tokens")
    # Cosine similarities lie in [-1, 1]: min_relevance = 2 declined every question without a word,
    # and a negative relevance_gap was read as 0.
    if not -1 <= s.min_relevance <= 1:
        raise refused(f"min_relevance must be between -1 and 1 (a cosine similarity), not {s.min_relevance}",
                      "min_relevance")
    if s.relevance_gap < 0:
        raise refused(f"relevance_gap must be 0 (show all top_k) or more, not {s.relevance_gap}", "relevance_gap")
    if not 0 <= s.consistency_samples <= MAX_CONSISTENCY_SAMPLES:
        raise refused(f"consistency_samples must be 0 (no second opinion) to {MAX_CONSISTENCY_SAMPLES}, "
                      f"not {s.consistency_samples}", "consistency_samples")
