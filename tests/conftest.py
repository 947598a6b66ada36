"""Shared fixtures. The real models are loaded once per session; the index lives in tmp."""

from pathlib import Path

import pytest

import rag
from rag.config import PROJECT_DIR, load_settings

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
