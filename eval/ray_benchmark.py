"""Embedding speed: local versus a local Ray with 1 and 2 CPUs, and what a million passages costs.

    .venv/bin/python eval/ray_benchmark.py [--passages N]

The seeds' passages (41) are repeated to N. Each Ray run is timed twice, on one batch and on all
N, because every embed_on_ray call starts its actors and loads the model again: the difference is
the steady rate, the small run the fixed cost. The cost per million passages is an
EXTRAPOLATION from these rates (one machine, a small model, short passages), not a measurement.
Other work on the machine slows every figure: the load average is printed beside each.
"""

from __future__ import annotations

import argparse
import os
import time

import ray
import torch

from rag.chunking import chunk_article
from rag.config import PROJECT_DIR, load_settings
from rag.distributed import embed_on_ray
from rag.embedding import load_embedder, passage_text
from rag.loading import load_folder

BATCH = 64


def seed_passages(settings) -> list[str]:
    articles, _ = load_folder(PROJECT_DIR / "seeds", settings.max_file_bytes, settings.max_archive_bytes)
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    return [passage_text(c) for a in articles
            for c in chunk_article(a, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)]


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def local_rate(embedder, texts: list[str], threads: int) -> tuple[float, float]:
    """(passages per wall second, passages per CPU second) with `threads` torch threads."""
    torch.set_num_threads(threads)
    embedder.embed(texts[:BATCH])  # warm-up: the first call allocates
    wall, cpu = time.perf_counter(), time.process_time()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu)


def ray_rate(settings, texts: list[str], cpus: int) -> tuple[float, float, float]:
    """(seconds for ray.init, fixed seconds per call, passages per second once running)."""
    started = time.perf_counter()
    # PYTHONPATH: the workers import this checkout's rag, whatever `pip install -e` points at.
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_DIR)}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    init = time.perf_counter() - started
    try:
        timings = []
        for part in (texts[:BATCH], texts):
            started = time.perf_counter()
            embed_on_ray(part, settings.embedding_model, settings.models_dir, batch_size=BATCH)
            timings.append(time.perf_counter() - started)
    finally:
        ray.shutdown()
    small, full = timings
    return init, small, (len(texts) - BATCH) / (full - small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    args = parser.parse_args()
    settings = load_settings()
    seeds = seed_passages(settings)
    texts = (seeds * (args.passages // len(seeds) + 1))[: args.passages]
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    print(f"{len(texts)} passages ({len(seeds)} seed passages repeated), {settings.embedding_model}, "
          f"{os.cpu_count()} cores, batches of {BATCH}; {load()}")

    rates, per_cpu_second = {}, {}
    for threads in (1, 2):
        wall, per_cpu_second[threads] = local_rate(embedder, texts, threads)
        rates[f"local {threads}"] = wall
        print(f"local, {threads} torch thread(s): {wall:6.1f} passages/s "
              f"({per_cpu_second[threads]:5.1f} per CPU-second); {load()}")
    torch.set_num_threads(os.cpu_count() or 1)

    for cpus in (1, 2):
        init, fixed, rate = ray_rate(settings, texts, cpus)
        rates[f"ray {cpus}"] = rate
        print(f"Ray, num_cpus={cpus}: {rate:6.1f} passages/s once running; ray.init {init:.1f} s, "
              f"each call {fixed:.1f} s more (actors start, model loads); {load()}")

    print("\nEXTRAPOLATED, not measured: one million passages of this kind, at the rates above")
    for name, rate in rates.items():
        cores = int(name.split()[1])
        print(f"  {name:8s}: {1e6 / rate / 3600:5.2f} h wall on {cores} core(s) = "
              f"{cores * 1e6 / rate / 3600:5.2f} core-hours")
    # CPU time is what other processes on the machine disturb least: the per-core figure to scale.
    print(f"  CPU time alone (local, 1 thread, {per_cpu_second[1]:.1f} passages per CPU-second): "
          f"{1e6 / per_cpu_second[1] / 3600:5.2f} core-hours")
    print("  A cluster of C such cores needs about (core-hours / C) hours, plus its fixed costs above.")


if __name__ == "__main__":
    main()
