"""Fetch a folder of real news articles nobody here tuned on: the Lee corpus (ABC, Australia, 2001).

    .venv/bin/python eval/news/fetch.py            # writes eval/news/articles/ (git-ignored)

350 short articles from the Australian Broadcasting Corporation's news service (Lee, Pincombe and
Welsh, 2005: the 50 of `lee.cor` and the 300 of `lee_background.cor`), one article a line, shipped
inside gensim's wheel as test data. The wheel comes from the package registry (`pip download
--no-deps`, nothing else is installed), the two files are checked against their SHA-256, and each
article becomes one .txt file named for its corpus and line: `lee_007.txt`, `lee_bg_123.txt`.
The articles have no titles or dates; the loader titles each by its first sentence.

What they are for: `eval/news/questions.jsonl` asks about them (written by someone who never saw
the pipeline's answers to them), and `rag eval --distractors eval/news/articles` asks the seed
question set among them: a crowded index of real news, where a question the seed articles cannot
answer always finds something that looks close (see eval/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WHEEL = "gensim==4.4.0"
# member of the wheel -> (file name prefix, SHA-256, encoding)
CORPORA = {
    "gensim/test/test_data/lee.cor":
        ("lee", "a878f9a58f6743c32985c56c2f2f75988386216b38a4023a01fd3bcf7884d93e", "latin-1"),
    "gensim/test/test_data/lee_background.cor":
        ("lee_bg", "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb", "utf-8"),
}


def fetch(out: Path) -> int:
    """Write the articles into `out`; returns how many. Files already there are rewritten the same."""
    with tempfile.TemporaryDirectory(prefix="rag-news-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, WHEEL],
                       check=True)
        (wheel,) = Path(tmp).glob("gensim-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            raw = {member: archive.read(member) for member in CORPORA}
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for member, (prefix, sha256, encoding) in CORPORA.items():
        if hashlib.sha256(raw[member]).hexdigest() != sha256:
            raise SystemExit(f"{member} in {WHEEL} is not the file this set was written from (SHA-256 differs)")
        for number, line in enumerate(raw[member].decode(encoding).splitlines()):
            if line.strip():
                (out / f"{prefix}_{number:03d}.txt").write_text(line.strip() + "\n", encoding="utf-8")
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "articles")
    args = parser.parse_args()
    print(f"{fetch(args.out)} articles in {args.out}")


if __name__ == "__main__":
    main()
