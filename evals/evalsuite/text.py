"""Reading a report's prose: where a segment is named, the figures printed next to it, how an
answer opens, whether a value or a mechanism is mentioned.

Every rule here is literal and documented; the evaluators build on them and the tests pin them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# -- how an answer opens ---------------------------------------------------------------------------

_OPENS = {
    "yes": re.compile(r"^\W*yes\b", re.IGNORECASE),
    "no": re.compile(r"^\W*no\b", re.IGNORECASE),
}


def opens_with(text: str, word: str) -> bool:
    """``text`` opens with the word ``"yes"`` or ``"no"`` (any case; punctuation after it such
    as "No —", "No:", "No," or "Yes." is fine; "Nothing" or "Not" is not "No")."""
    return bool(_OPENS[word].match(text))


# -- values and names mentioned --------------------------------------------------------------------


def mentions(text: str, value: str) -> bool:
    """``value`` appears in ``text`` as a whole word (not inside a longer word or number).

    Case-insensitive, except that a value written all in capitals (a code such as ``IN`` or
    ``NPS``) must appear in capitals: the word "in" does not mention India.
    """
    value = value.strip()
    if not value:
        return False
    flags = 0 if value.isupper() else re.IGNORECASE
    pattern = rf"(?<![\w.]){re.escape(value)}(?!\w)(?!\.\d)"
    return re.search(pattern, text, flags) is not None


# -- segments named in prose -----------------------------------------------------------------------


def _label_pattern(filters: dict[str, str]) -> re.Pattern[str]:
    """The segment's label as reports print it (``platform=android, country=IN``), its pairs in
    any order, spaces around ``=`` and ``,`` optional, case-insensitive. A label that continues
    with a further ``dim=value`` pair names a narrower segment, not this one (the pair before
    it is checked in :func:`segment_mentions`)."""
    pairs = [rf"{re.escape(k)}\s*=\s*{re.escape(str(v))}" for k, v in filters.items()]
    orders = ["\\s*,\\s*".join(p) for p in itertools.permutations(pairs)]
    body = "|".join(f"(?:{o})" for o in orders)
    return re.compile(rf"(?<![\w.])(?:{body})(?!\w)(?!\.\d)(?!\s*,\s*[\w.-]+\s*=)", re.IGNORECASE)


_PAIR_BEFORE = re.compile(r"[\w.-]+\s*=\s*[^\s,=]+\s*,\s*$")


def segment_mentions(text: str, filters: dict[str, str]) -> list[tuple[int, int]]:
    """Spans of ``text`` that name the segment by its label (see :func:`_label_pattern`).
    A segment with no filters (all traffic) is never named this way."""
    if not filters:
        return []
    spans = [m.span() for m in _label_pattern(filters).finditer(text)]
    return [(a, b) for a, b in spans if not _PAIR_BEFORE.search(text, 0, a)]


# -- figures ---------------------------------------------------------------------------------------

_PERCENT = re.compile(r"(?<![\w.])([+\-−–]?)(\d+(?:\.\d+)?)\s?%")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|;|\n")
_LABEL_END = re.compile(r"[,;()\n]|[.!?](?=\s|$)")
_SHARE = re.compile(r"^\s*of\b", re.IGNORECASE)
# a comparison with something other than the segment's own past: the rest of the data, others
_OTHER_COMPARISON = re.compile(
    r"\b(rest|other|others|elsewhere|overall|total|average|everyone|everywhere)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figure:
    """A percentage printed in a text: its signed value (``None`` sign when unsigned), its
    decimals, the words labelling it and where it stands."""

    text: str
    value: float
    signed: bool
    decimals: int
    label: str
    at: int

    @property
    def other_comparison(self) -> bool:
        """Labelled as something other than the segment's change: a share ("45% of the
        change") or a comparison with something other than the segment's own past ("-3% vs
        the rest", "+2% above the overall average"; :data:`_OTHER_COMPARISON`).

        Strict on purpose: however the change is worded ("vs baseline", "vs the weeks before",
        "week over week"), a figure for the segment's own change over time is its change, and
        a figure for another measure of the same segment ("events -51.7%" in a DAU report) is a
        second figure for that segment; the label is read after the figure only."""
        if _SHARE.match(self.label):
            return True
        return bool(_OTHER_COMPARISON.search(self.label))


def figures(text: str, start: int = 0, end: int | None = None) -> list[Figure]:
    """The percentages in ``text[start:end]``; each one's label is the words after it up to the
    next comma, semicolon, parenthesis or sentence end."""
    end = len(text) if end is None else end
    out = []
    for m in _PERCENT.finditer(text, start, end):
        sign, digits = m.group(1), m.group(2)
        value = float(digits) * (-1.0 if sign in ("-", "−", "–") else 1.0)
        stop = _LABEL_END.search(text, m.end())
        label = text[m.end() : stop.start() if stop else len(text)]
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        out.append(Figure(m.group(0), value, bool(sign), decimals, label.strip(), m.start()))
    return out


def agrees(figure: Figure, change_pct: float) -> bool:
    """The printed figure is ``change_pct`` rounded to the decimals printed (half a unit of the
    last printed digit either way); an unsigned figure is compared with the magnitude, a signed
    one must also have the right sign (a printed 0 may carry either)."""
    tolerance = 0.5 * 10 ** (-figure.decimals) + 1e-9
    if not figure.signed:
        return abs(abs(change_pct) - figure.value) <= tolerance
    return abs(change_pct - figure.value) <= tolerance


def sentence_end(text: str, at: int) -> int:
    """Where the sentence holding position ``at`` ends (a ``.``/``!``/``?`` before a space or
    the end, a semicolon or a line break)."""
    m = _SENTENCE_END.search(text, at)
    return m.start() if m else len(text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of ``text`` as spans (split as :func:`sentence_end` does)."""
    spans, start = [], 0
    while start < len(text):
        end = sentence_end(text, start)
        spans.append((start, end))
        start = end + 1
    return spans


def figures_next_to(
    text: str, filters: dict[str, str], others: Sequence[dict[str, str]]
) -> list[Figure]:
    """The figures printed next to the segment ``filters`` in ``text``: after each mention of
    its label, up to the end of that sentence or the next mention of another segment in
    ``others``, whichever comes first. Figures before a name are not attributed to it (in
    "dau dropped 16.3%: country=IN …" the 16.3% belongs to the metric)."""
    other_starts = sorted(s for o in others for s, _ in segment_mentions(text, o))
    out: list[Figure] = []
    for _, end in segment_mentions(text, filters):
        stop = sentence_end(text, end)
        stop = min([stop, *(s for s in other_starts if s >= end)])
        out += figures(text, end, stop)
    return out


# -- mechanisms named in prose ---------------------------------------------------------------------

MECHANISM_WORDS: dict[str, tuple[str, ...]] = {
    "behaviour": ("behaviour", "behavior"),
    "outage": ("outage",),
    "deployment": ("deployment", "release"),
    "instrumentation": ("instrumentation", "logging", "logged", "tracking"),
    "automated_traffic": ("automated", "bot", "bots"),
    "calendar": ("holiday", "holidays", "calendar"),
    "cohort": ("cohort", "cohorts"),
    "data_freshness": (
        "freshness",
        "not fully loaded",
        "incomplete",
        "partial day",
        "partially loaded",
        "still loading",
        "not yet loaded",
    ),
}


def names_mechanism(texts: Iterable[str], mechanism: str) -> bool:
    """Some text names the mechanism: its own name (``automated_traffic`` or "automated
    traffic") or one of its words in :data:`MECHANISM_WORDS`, as whole words, any case."""
    words = (mechanism, mechanism.replace("_", " "), *MECHANISM_WORDS.get(mechanism, ()))
    return any(mentions(t, w.lower()) for t in texts for w in words)
