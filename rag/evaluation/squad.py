"""`rag eval --squad FILE`: the same metrics on a SQuAD v1.1 or v2.0 file.

Every paragraph of the file becomes one article of a throwaway index (distractors included), each
question's gold source is its paragraph's file, its gold evidence the sentences of that file that
hold an annotator's answer (from SQuAD's `answer_start`), and v2.0's `is_impossible` questions are
the unanswerable ones. The user's own index is never touched.

`rag eval --distractors FILE` puts the same paragraphs (or, given a folder, its articles) beside the
articles of a question set instead (the seed articles, or `--articles DIR`), so that its questions
are asked over a crowded index: a decline calibrated where five articles are all there is must
still hold when something always looks close.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import BadInputError
from rag.evaluation.metrics import Span, normalize_answer
from rag.evaluation.questions import EvalQuestion, select_questions
from rag.evaluation.runner import evaluate, question_slice
from rag.loading import article_files, file_name
from rag.text import split_sentences

__all__ = ["SAMPLE_SIZE", "SquadSet", "evaluate_among_distractors", "evaluate_squad", "load_squad", "throwaway_index"]

log = logging.getLogger(__name__)

ANSWERABLE, UNANSWERABLE = "squad", "unanswerable_squad"
# The reported sample: 200 questions, half of them unanswerable, random.Random(0) (eval/README.md).
SAMPLE_SIZE = 200


@dataclass
class SquadSet:
    version: str | None  # the file's "version", e.g. "v2.0"
    documents: dict[str, str]  # file name -> text: the paragraph, after its article's title
    questions: list[EvalQuestion]
    skipped: list[str]  # question ids left out: blank, or with no usable gold answer


def load_squad(path: str | Path) -> SquadSet:
    """Read a SQuAD file into paragraph documents and questions, in file order."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        squad = _parse(data)
    except OSError as exc:
        raise BadInputError(f"cannot read SQuAD file {path}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested thousands deep
        raise BadInputError(f"{path} is not valid JSON ({type(exc).__name__}: {exc})") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(f"{path} is not in SQuAD format: {{'data': [{{'title', 'paragraphs': "
                            f"[{{'context', 'qas'}}]}}]}} expected ({type(exc).__name__}: {exc})") from None
    if not squad.documents:
        raise BadInputError(f"{path} holds no paragraphs")
    return squad


def _parse(data: dict) -> SquadSet:
    documents: dict[str, str] = {}
    questions: list[EvalQuestion] = []
    skipped: list[str] = []
    for t, article in enumerate(data["data"]):
        title = article["title"].replace("_", " ").strip()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:60] or "untitled"
        for p, paragraph in enumerate(article["paragraphs"]):
            name = f"{t:03d}_{slug}_{p:03d}.txt"
            context = paragraph["context"]
            body = context.strip()
            # The title as the first line: the loader takes it as the article's title, as the
            # seed articles' headlines are.
            document = documents[name] = f"{title}\n\n{body}\n"
            # Where context offsets land in the document: after the title line, less the
            # whitespace stripped from the context's start.
            shift = len(title) + 2 - (len(context) - len(context.lstrip()))
            sentences = [Span(name, s, e) for s, e in split_sentences(document, 0, len(document))]
            for qa in paragraph["qas"]:
                impossible = bool(qa.get("is_impossible", False))
                given = [] if impossible else [a for a in qa["answers"] if normalize_answer(a["text"])]
                answers = list(dict.fromkeys(a["text"].strip() for a in given))
                if not qa["question"].strip() or not (impossible or answers):
                    skipped.append(str(qa["id"]))
                    continue
                questions.append(EvalQuestion(
                    id=str(qa["id"]), question=qa["question"].strip(), answers=answers,
                    sources=[] if impossible else [name], kind=UNANSWERABLE if impossible else ANSWERABLE,
                    evidence=_evidence(given, shift, name, sentences),
                ))
    return SquadSet(version=data.get("version"), documents=documents, questions=questions, skipped=skipped)


def _evidence(answers: list[dict], shift: int, name: str, sentences: list[Span]) -> list[Span]:
    """The sentences that hold an annotator's answer span (SQuAD's `answer_start`, when given)."""
    spans = [Span(name, a["answer_start"] + shift, a["answer_start"] + shift + len(a["text"]))
             for a in answers if isinstance(a.get("answer_start"), int)]
    return [sentence for sentence in sentences if any(sentence.overlaps(span) for span in spans)]


def evaluate_squad(path: str | Path, *, settings: Settings, limit: int | None = SAMPLE_SIZE, seed: int = 0,
                   kind: str | None = None, distractors: Path | None = None, progress: bool = True) -> dict:
    """Index the file's paragraphs in a temporary folder and `evaluate` a reproducible sample of
    `limit` questions (random.Random(seed), half unanswerable; None for all); the report is the
    same as for the seed set. `distractors`: a folder whose articles are indexed beside the
    paragraphs (a crowded index: do the declines hold when something always looks close?)."""
    squad = load_squad(path)
    if squad.skipped:
        log.warning("%s: left out %d questions that are blank or have no usable answer", path, len(squad.skipped))
    questions = select_questions(squad.questions, kind=kind, limit=limit, seed=seed)
    if distractors is not None:
        article_files(distractors)  # a missing or empty folder is refused before the paragraphs are indexed
    folders = [distractors] if distractors is not None else []
    with throwaway_index(squad.documents, *folders, settings=settings, progress=progress) as index_dir:
        report = _deleted_index(evaluate(questions, settings=settings, index_dir=index_dir, progress=progress))
    report["meta"]["squad"] = {
        "path": str(path), "version": squad.version, "paragraphs": len(squad.documents),
        "questions": len(squad.questions), "skipped": squad.skipped, "kind": kind, "limit": limit, "seed": seed,
    }
    if distractors is not None:
        report["meta"]["distractors"] = str(distractors)
    return report


def evaluate_among_distractors(question_set: str | Path, path: str | Path, articles_dir: Path, *,
                               settings: Settings, progress: bool = True, **selection) -> dict:
    """The question set asked over a throwaway index of the articles in `articles_dir` and, as distractors,
    every paragraph of the SQuAD file at `path`, or every article of the folder at `path`;
    `selection`: kind, split, limit."""
    # Everything that can be refused is refused before the index is built (minutes for a
    # SQuAD file): the question set, checked against its articles, and the slice of it, and a
    # folder without articles.
    questions, named = question_slice(question_set, articles_dir, **selection)
    path = Path(path)
    if path.is_dir():
        article_files(path)
        documents, folders = {}, [articles_dir, path]
    else:
        documents, folders = load_squad(path).documents, [articles_dir]
    with throwaway_index(documents, *folders, settings=settings, progress=progress) as index_dir:
        report = _deleted_index(evaluate(questions, settings=settings, index_dir=index_dir, progress=progress))
    report["meta"]["question_set"] = named
    report["meta"]["distractors"] = str(path)
    return report


def _deleted_index(report: dict) -> dict:
    """The report of a throwaway index, which names no folder: it was deleted with it."""
    report["meta"]["index"]["path"] = report["meta"]["settings"]["index_dir"] = None
    return report


@contextmanager
def throwaway_index(documents: dict[str, str], *articles_dirs: Path, settings: Settings,
                    progress: bool) -> Iterator[Path]:
    """An index of `documents` (file name -> text), beside copies of the files of `articles_dirs`,
    built in a temporary folder that is deleted on leaving: the user's index is never touched."""
    from rag.pipeline import build_index

    with tempfile.TemporaryDirectory(prefix="rag-squad-") as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        for articles_dir in articles_dirs:
            if not articles_dir.is_dir():
                raise BadInputError(f"no folder {articles_dir}: the articles the question set asks about")
            for file in article_files(articles_dir).files:  # what the index reads of a folder, sub-folders too
                if file.is_file():
                    target = _unused(folder / file_name(articles_dir, file))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(file, target)
        for name, text in documents.items():
            _unused(folder / name).write_text(text, encoding="utf-8")
        index_dir = Path(tmp) / "index"
        build_index(folder, index_dir, settings=settings, progress=progress)
        yield index_dir


def _unused(target: Path) -> Path:
    """`target`, a path in a throwaway index's folder that no other article has taken yet."""
    if target.exists():
        raise BadInputError(f"two articles would be named {target.name}: the question set's articles and its "
                            "distractors need different file names")
    return target
