"""Embedding on Ray gives the local embedder's vectors, in order; a bad address is a clear error.

One local Ray (2 CPUs) serves the module: starting it costs about 10 s here, and each
embed_on_ray call about 15 s more (the actors start and load the model).
"""

import socket
import sys

import numpy as np
import pytest

from conftest import SEEDS
from rag.chunking import chunk_article
from rag.config import PROJECT_DIR, load_settings
from rag.distributed import embed_on_ray
from rag.embedding import load_embedder
from rag.errors import BadInputError, ModelMissingError
from rag.loading import load_folder

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    # The workers must import the rag under test, not the one `pip install -e` points at.
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_DIR)}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def passages():
    """The passage texts of three seed articles, as build_index embeds them."""
    settings = load_settings()
    articles, _ = load_folder(SEEDS, settings.max_file_bytes, settings.max_archive_bytes)
    embedder = load_embedder(settings.embedding_model, settings.models_dir)
    chunks = [chunk for article in articles[:3]
              for chunk in chunk_article(article, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)]
    return settings, [f"{c.title}\n{c.text}" for c in chunks]


def test_ray_gives_the_local_vectors_in_the_same_order(local_ray, passages):
    settings, texts = passages
    local = load_embedder(settings.embedding_model, settings.models_dir).embed(texts)
    # Batches of 8 over 2 actors: several batches finish out of order and must be put back.
    on_ray = embed_on_ray(texts, settings.embedding_model, settings.models_dir, batch_size=8)
    assert len(texts) > 2 * 8
    assert on_ray.shape == local.shape and on_ray.dtype == np.float32
    # Measured 7e-8: only the padding differs (a batch pads to its own longest passage).
    np.testing.assert_allclose(on_ray, local, atol=1e-5)
    # Order: every Ray vector is closest to the local vector of the same passage.
    assert (np.argmax(on_ray @ local.T, axis=1) == np.arange(len(texts))).all()


def test_no_passages_give_an_empty_matrix_of_the_models_width(passages):
    settings, _ = passages
    assert embed_on_ray([], settings.embedding_model, settings.models_dir).shape == (0, 384)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}", "no-port-here"])
def test_an_unreachable_or_malformed_address_is_a_bad_input(monkeypatch, address):
    # As in a fresh `rag index` process, whether or not this module's Ray is running.
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(BadInputError, match="Ray"):
        embed_on_ray(["text"], "all-MiniLM-L6-v2", None, address.format(port=_closed_port()))


def test_without_ray_installed_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(BadInputError, match=r"rag-news\[cluster\]"):
        embed_on_ray(["text"], "all-MiniLM-L6-v2", None)


def test_a_model_missing_on_the_driver_is_refused_before_ray_starts(tmp_path):
    with pytest.raises(ModelMissingError, match="all-mpnet-base-v2"):
        embed_on_ray(["text"], "all-mpnet-base-v2", tmp_path)


def test_an_index_built_through_ray_equals_the_local_one(local_ray, tmp_path):
    import shutil

    import rag
    from rag.index import load_index

    settings = load_settings()
    folder = tmp_path / "articles"
    folder.mkdir()
    for path in sorted(SEEDS.iterdir())[:2]:
        shutil.copy(path, folder)
    indexes = {}
    for way, address in (("local", None), ("ray", "auto")):
        rag.build_index(folder, tmp_path / way, settings=settings, progress=False, ray=address)
        stored = load_index(tmp_path / way, settings.embedding_model)
        rows = stored.row_ids()
        chunks = stored.chunks(rows)
        indexes[way] = {chunks[row].id: vector for row, vector in zip(rows, stored.vectors_of(rows))}
    assert list(indexes["ray"]) == list(indexes["local"]) and len(indexes["local"]) > 10
    for key, vector in indexes["local"].items():
        np.testing.assert_allclose(indexes["ray"][key], vector, atol=1e-5)
