"""Shared fixtures. The real models are loaded once per session; the index lives in tmp."""

import shutil
import socket
from pathlib import Path

import pytest

import rag
from rag.config import PROJECT_DIR, load_settings
from rag.schema import Retrieved

SEEDS = PROJECT_DIR / "seeds"
ISTANBUL = "004_e89adec3750aa83b.txt"


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    index_dir = tmp_path_factory.mktemp("seed-index")
    rag.build_index(SEEDS, index_dir, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def settings(seed_index):
    return load_settings(index_dir=seed_index)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_copy_of_seeds(root: Path):
    """The web app, on a free loopback port, over its own copy of the seeds (so uploads never
    touch seeds/); the caller closes it."""
    from ui.app import serve

    shutil.copytree(SEEDS, root / "articles")
    settings = load_settings(index_dir=root / "index")
    rag.build_index(root / "articles", settings=settings, progress=False)
    return serve(settings, "127.0.0.1", free_port(), block=False)


# A core (rag.ask_stream) that ends before its checked Answer, each way it can: the API and the web
# app must each say so and answer the next question.
ENDING_EARLY = pytest.mark.parametrize("items", [[], [Retrieved([], 0.01)], [Retrieved([], 0.01), "Prisoners were "]],
                                       ids=["nothing", "passages only", "words only"])


def core_ending_with(items):
    def ask_stream(question, **_):
        yield from items

    return ask_stream
