"""Speed on this machine: index build time, then time to first token and total for a few questions.

    .venv/bin/python eval/benchmark.py [--questions N] [--top-k K]

Prints figures, not verdicts. Model loading is timed apart from answering, and so is the warm-up
(the generator reading the fixed instructions into its cache, as `rag ui`, `rag serve` and `rag
chat` do as they start), so that the per-question figures are what a user of a running UI waits for.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import rag
from rag.config import PROJECT_DIR, load_settings
from rag.embedding import load_embedder
from rag.generation import load_generator
from rag.pipeline import warm_up

QUESTIONS = [
    "What came out of the May 2025 Istanbul talks?",
    "Where had Putin and Erdogan met before the Astana talks?",
    "What did Putin and Erdogan plan to discuss in February?",
    "Who represented Ukraine at the Istanbul talks?",
    "What drones has Türkiye supplied to Ukraine?",
    "What does Russia demand in the negotiations?",
    "Why was Istanbul chosen as the venue?",
    "What is the capital of Australia?",
]


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--top-k", type=int)
    args = parser.parse_args()
    settings = load_settings(top_k=args.top_k)

    print(f"machine: {os.cpu_count()} cores; generator {settings.generator} ({settings.backend}); "
          f"embedding {settings.embedding_model}; top_k {settings.top_k}, chunk_tokens {settings.chunk_tokens}")
    _, embedder_load = timed(lambda: load_embedder(settings.embedding_model))
    _, generator_load = timed(lambda: load_generator(settings))
    print(f"model loading: embedder {embedder_load:.2f} s, generator {generator_load:.2f} s (once per process)")

    with tempfile.TemporaryDirectory() as index_dir:
        info, build = timed(lambda: rag.build_index(PROJECT_DIR / "seeds", Path(index_dir), settings=settings,
                                                    progress=False))
        print(f"index build: {info.articles} articles, {info.chunks} chunks in {build:.2f} s")
        _, warming = timed(lambda: warm_up(dataclasses.replace(settings, index_dir=Path(index_dir))))
        print(f"warm-up: the fixed instructions in the cache in {warming:.2f} s (once per process, as the UI "
              "starts; restored from the state an earlier run saved, else read)")

        rows = []
        for question in QUESTIONS[: args.questions]:
            answer = rag.ask(question, index_dir=index_dir, settings=settings)
            t = answer.timings
            rows.append(answer)
            first = f"{t.first_token:6.2f}" if t.first_token is not None else "     -"
            print(f"  retrieval {t.retrieval:5.2f}  first token {first}  total {t.total:5.2f} s  "
                  f"prompt {answer.prompt_tokens:4d} tok  answer {answer.completion_tokens:3d} tok  "
                  f"{'declined ' if answer.abstained else ''}{question}")

    generated = [a for a in rows if a.timings.first_token is not None]
    totals = [a.timings.total for a in rows]
    print(f"median total {statistics.median(totals):.2f} s, median time to first token "
          f"{statistics.median(a.timings.first_token for a in generated):.2f} s over {len(rows)} questions")
    # A second opinion (rag.consistency) samples after the answer is written: its time is in the
    # total, not in the answer's writing, so those answers are timed apart.
    checked_again = [a for a in rows if a.samples_disagreeing is not None]
    if checked_again:
        print(f"{len(checked_again)} answers asked for a second opinion: median total "
              f"{statistics.median(a.timings.total for a in checked_again):.2f} s, "
              f"{sum(a.samples_drawn for a in checked_again)} samples drawn")
    warm = [a for a in generated if a.samples_disagreeing is None]
    if warm:
        reading = sum(a.timings.first_token - a.timings.retrieval for a in warm)
        prompt_rate = sum(a.prompt_tokens for a in warm) / reading
        gen_time = sum(a.timings.total - a.timings.first_token for a in warm)
        gen_rate = sum(a.completion_tokens for a in warm) / gen_time if gen_time else float("nan")
        print(f"answers without a second opinion: prompt read at {prompt_rate:.0f} "
              f"tok/s (cached prefix included), "
              f"answer written at {gen_rate:.0f} tok/s; reading the prompt takes "
              f"{reading / (reading + gen_time):.0%} of generation time")


if __name__ == "__main__":
    main()
