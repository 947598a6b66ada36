"""Which articles a question is asked over: all of them, or those of a time, a folder (or file) of
the library, an outlet.

Over years of an archive the question often knows its scope better than its words do ("what did
the BBC say of the merger in 2024?", asked of the business section): its passages are then looked
for only there (rag.index.StoredIndex.rows_in), by meaning and by keywords alike, not found
everywhere and filtered after, which would leave a scope with few passages nothing to show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from datetime import date

from rag.errors import BadInputError
from rag.text import folded

# A year, a month or a day, as ISO writes it: what an article's date is compared with.
_ISO_PREFIX = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


@dataclass(frozen=True)
class Scope:
    """The articles dated from `since` to `until` (each a year "2024", a month "2024-05" or "May
    2024", or a day "2024-05-16" or "16 May 2024", both included: until "2024" is to the end of
    2024), in the library's folder or file `within` ("business", "2024/05", "feeds/world.rss"),
    from an outlet whose name holds the words `outlet` (outlet_holds: "BBC" is "BBC News" and
    bbc.co.uk, "guardian" "The Guardian" and theguardian.com; as the Library lists outlets). An
    article's date is its publication date, else the latest date its text states
    (ArticleRecord.date); with a time set, an article with no date is outside it. Unset or blank fields do not narrow;
    BadInputError for a malformed one."""

    since: str | None = None
    until: str | None = None
    within: str | None = None
    outlet: str | None = None

    def __post_init__(self):
        for name in ("since", "until", "within", "outlet"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise BadInputError(f"{name} must be text, not {value!r}")
            object.__setattr__(self, name, (value or "").strip() or None)  # a field left blank: unset
        for name in ("since", "until"):
            if (value := getattr(self, name)) is not None:
                object.__setattr__(self, name, _iso(name, value))
        if self.since and self.until and self.until < self.since[:len(self.until)]:
            raise BadInputError(f"until ({self.until}) is before since ({self.since})")
        if self.within is not None:
            # As the Library names files: "/" between folders, none at either end.
            object.__setattr__(self, "within", self.within.replace("\\", "/").strip("/") or None)

    def __bool__(self) -> bool:
        return any((self.since, self.until, self.within, self.outlet))

    def described(self) -> str:
        """What it keeps, as a reason names it: "dated from 2024 to 2024-06, in business, from BBC"."""
        parts = []
        if self.since and self.until:
            parts.append(f"dated from {self.since} to {self.until}")
        elif self.since or self.until:
            parts.append(f"dated {self.since} or later" if self.since else f"dated {self.until} or earlier")
        if self.within:
            parts.append(f"in {self.within}")
        if self.outlet:
            parts.append(f"from {self.outlet}")
        return ", ".join(parts) or "every article"


# Cached: an archive's outlets are few, its articles many (150,000 calls took 0.41 s uncached,
# once for each scope gathered, rag.index.StoredIndex.rows_in).
@lru_cache(maxsize=4096)
def outlet_holds(outlet: str | None, wanted: str) -> bool:
    """Whether the outlet named `outlet` is the one `wanted` names: `wanted`'s words, whole and in
    order, whatever their case and accents ("BBC" is "BBC News - World", "süddeutsche" is
    "Süddeutsche Zeitung", "times" is "The Times" but "harb" no outlet). An outlet known only by
    its web address (an article whose page or feed named none, as the Guardian's API gives them:
    "theguardian.com") holds a name whose words, run together, begin or end one of its parts:
    "guardian" is theguardian.com, "AP" apnews.com, "BBC" www.bbc.co.uk ("AP" is not japantimes.co.jp)."""
    have, want = _words(outlet or ""), _words(wanted)
    if not want:
        return False
    if any(have[start:start + len(want)] == want for start in range(len(have) - len(want) + 1)):
        return True
    joined = "".join(want)
    return _WEB_ADDRESS.fullmatch(outlet or "") is not None and any(
        part.startswith(joined) or part.endswith(joined) for part in have)


# An outlet named by its web address: "theguardian.com", "www.bbc.co.uk", no space in it.
_WEB_ADDRESS = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", folded(text))


def as_scope(value) -> Scope | None:
    """A Scope from what a caller gives: a Scope, a mapping of its fields ({"since": "2024"}: what
    a JSON request or a script holds), or None; BadInputError for anything else."""
    if value is None or isinstance(value, Scope):
        return value
    names = [field.name for field in fields(Scope)]
    if not isinstance(value, Mapping) or not set(value) <= set(names):
        raise BadInputError(f"scope must be an object with any of {', '.join(names)} (in Python, a rag.Scope), "
                            f"not {value!r}")
    return Scope(**value)


def _iso(name: str, value: str) -> str:
    """`value` as an ISO year, month or day: as written ("2024-05"), or a date written out as news
    writes one ("May 2024", "16 May 2024", "May 16, 2024": rag.loading.dates_in, which reads an
    article's dates)."""
    from rag.loading import dates_in

    if not _ISO_PREFIX.fullmatch(value):
        written = dates_in(value)
        # A date and nothing else: "May 2024 to June" is not May 2024.
        if len(written) != 1 or len(value.split()) > 3:
            raise BadInputError(f"{name} must be a year, month or day as 2024, 2024-05, 2024-05-16 or May 2024, "
                                f"not {value!r}")
        return written[0]
    year, month, day = (value.split("-") + ["01", "01"])[:3]
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        raise BadInputError(f"{name} is not a date of the calendar: {value!r}") from None
    return value
