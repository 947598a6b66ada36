"""Many callers at once: questions take turns at the one model, in arrival order, and the models
are built once per process however many callers ask for them first."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import rag
from conftest import ISTANBUL
from rag import embedding, generation
from rag.generation import Turns


def test_turns_are_served_in_arrival_order():
    turns, served, holding = Turns(), [], threading.Event()
    release = threading.Event()

    def first():
        with turns.turn():
            holding.set()
            release.wait(5)
            served.append("first")

    def later(name):
        with turns.turn():
            served.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(5)
    for name in ("b", "c", "d"):  # each arrives after the one before is queued
        threads.append(threading.Thread(target=later, args=(name,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while turns.waiting() < len(threads) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert turns.waiting() == 4  # one at the model, three queued
    release.set()
    for thread in threads:
        thread.join(5)
    assert served == ["first", "b", "c", "d"]
    assert turns.waiting() == 0


def test_a_failed_turn_lets_the_next_one_in():
    turns = Turns()
    with pytest.raises(RuntimeError):
        with turns.turn():
            raise RuntimeError("the model failed")
    with turns.turn():  # would hang if the failed turn had kept its place
        assert turns.waiting() == 1


@pytest.mark.slow
def test_four_concurrent_first_questions_build_each_model_once(settings, monkeypatch):
    built = {"embedder": 0, "generator": 0}

    def counting(cls, key):
        original = cls.__init__

        def init(self, *args, **kwargs):
            built[key] += 1
            time.sleep(0.5)  # widen the window in which a second caller could start its own copy
            original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)

    counting(embedding.Embedder, "embedder")
    counting(generation.LlamaCppGenerator, "generator")
    embedding._load.cache_clear()
    generation._load.cache_clear()

    question = "What came out of the May 2025 Istanbul talks?"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: rag.ask(question, settings=settings), range(4)))
    assert built == {"embedder": 1, "generator": 1}
    for answer in answers:  # each caller gets a right answer, not another caller's tokens
        assert not answer.abstained and "prisoner" in answer.text.lower(), answer.text
        assert ISTANBUL in {c.source for c in answer.citations}
