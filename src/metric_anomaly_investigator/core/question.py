"""Read a natural-language question against a warehouse's real schema.

Finds the metric (names, labels and synonyms from the metric catalogue; of two named, the one
the question asks about, not one it says looks normal), a date or date range (ISO, "January 28th",
"Jan 28", "28/01", "yesterday", "last week", …, relative to the data's end date), segment words
matched against the dimensions' ACTUAL values ("India" → ``IN``, "Android" → ``android``), the
dimensions named, and the claimed direction. Nothing here knows any particular dataset.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..warehouse import metrics as catalogue
from ..warehouse.types import WarehouseSchema

# common ISO-3166 alpha-2 codes with the names (and aliases) people use for them
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "IN": ("india", "indian"),
    "US": ("united states", "usa", "america", "american", "the states", "u.s."),
    "GB": ("united kingdom", "uk", "britain", "great britain", "england", "british"),
    "UK": ("united kingdom", "uk", "britain", "great britain", "england", "british"),
    "DE": ("germany", "german"),
    "FR": ("france", "french"),
    "BR": ("brazil", "brasil", "brazilian"),
    "JP": ("japan", "japanese"),
    "CN": ("china", "chinese"),
    "CA": ("canada", "canadian"),
    "AU": ("australia", "australian"),
    "MX": ("mexico", "mexican"),
    "ES": ("spain", "spanish"),
    "IT": ("italy", "italian"),
    "NL": ("netherlands", "holland", "dutch"),
    "KR": ("south korea", "korea", "korean"),
    "ID": ("indonesia", "indonesian"),
    "NG": ("nigeria", "nigerian"),
    "PK": ("pakistan", "pakistani"),
    "BD": ("bangladesh",),
    "RU": ("russia", "russian"),
    "TR": ("turkey", "turkish"),
    "PH": ("philippines", "filipino"),
    "VN": ("vietnam", "vietnamese"),
    "EG": ("egypt", "egyptian"),
    "ZA": ("south africa",),
    "AR": ("argentina",),
    "CO": ("colombia",),
    "PL": ("poland", "polish"),
    "SE": ("sweden", "swedish"),
    "SG": ("singapore",),
    "AE": ("uae", "emirates"),
    "SA": ("saudi arabia", "saudi"),
    "KE": ("kenya",),
    "TH": ("thailand", "thai"),
    "IE": ("ireland", "irish"),
    "PT": ("portugal", "portuguese"),
    "CH": ("switzerland", "swiss"),
}

MONTHS: dict[str, int] = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

# values a question can never mention: no letter or digit ("", "?", "-"), or N/A
_ALNUM = re.compile(r"[^\W_]")
_NOT_APPLICABLE = re.compile(r"^\s*n\s*[/.]\s*a\.?\s*$", re.I)
# words that must not be read as a dimension value unless written exactly as the value
_COMMON_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "day",
        "do",
        "for",
        "from",
        "had",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "new",
        "no",
        "not",
        "of",
        "on",
        "one",
        "or",
        "our",
        "out",
        "so",
        "the",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "web",
        "what",
        "when",
        "why",
        "all",
        "any",
        "app",
        "off",
        "free",
        "pro",
        "top",
        "low",
        "high",
        "other",
        "none",
        "null",
        "unknown",
        "yes",
    ]
)
_RETENTION_WORDS = (
    "retention",
    "retain",
    "churn",
    "cohort",
    "come back",
    "coming back",
    "returning",
    "stickiness",
    "sticking around",
    "stick around",
    "new users",
    "signed up",
    "signups",
    "sign-ups",
    "sign ups",
)
# business metrics people ask about that an events table does not define (longest first)
_OTHER_METRICS = tuple(
    sorted(
        (
            "nps",
            "net promoter score",
            "csat",
            "customer satisfaction",
            "churn rate",
            "support tickets",
            "support ticket volume",
            "average order value",
            "aov",
            "arpu",
            "average revenue per user",
            "ltv",
            "lifetime value",
            "mrr",
            "arr",
            "recurring revenue",
            "cac",
            "acquisition cost",
            "crash rate",
            "crash-free rate",
            "bounce rate",
            "click-through rate",
            "ctr",
            "open rate",
            "refund rate",
            "cart abandonment",
            "session length",
            "session duration",
            "time spent",
            "app rating",
            "app store rating",
            "installs",
            "downloads",
            "impressions",
            "profit",
            "margin",
        ),
        key=len,
        reverse=True,
    )
)
_ACCOUNT_WORDS = re.compile(
    r"\b(?:accounts?|new users?|brand[- ]new|bots?|automated|fake|spam|scrapers?|crawlers?|"
    r"how many (?:users|people|customers)|which users|who (?:is|are)|users behind)\b"
)
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)?"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class ParsedQuestion:
    """What a question says, in the warehouse's own names."""

    metric: str | None = None
    # a metric of the catalogue the question asks about that this warehouse does not have
    missing_metric: str | None = None
    day: date | None = None
    segment: dict[str, str] = field(default_factory=dict)
    about_retention: bool = False
    # a metric outside the catalogue the question asks about ("NPS", "average order value"),
    # as written: this warehouse cannot have it
    unknown_metric: str | None = None
    # dimensions the question names ("which event type", "by country"), in the warehouse's names
    dimensions: tuple[str, ...] = ()
    # asks about the accounts behind the change (how many, new ones, bots)
    about_accounts: bool = False


def parse_question(text: str, schema: WarehouseSchema) -> ParsedQuestion:
    """Parse ``text`` against ``schema`` (see the module docstring)."""
    low = " " + re.sub(r"\s+", " ", text.lower()) + " "
    known = [
        *schema.metrics,
        *(
            m.name
            for m in (*catalogue.BUILTIN, *catalogue.SUGGESTED)
            if m.name not in schema.metrics
        ),
    ]
    own = {m.name: m for m in schema.custom_metrics}
    named = find_metric(low, known, own)
    other = find_unknown_metric(low, schema)
    if named is not None and other is not None and _inside(low, other, named, known, own):
        named = None  # "cart abandonment" is no question about carts
    about_retention = any(w in low for w in _RETENTION_WORDS)
    # "retention of January signups" is about retention (which has its own analysis)
    lacking = named is not None and named not in schema.metrics
    missing = named if lacking and not about_retention else None
    return ParsedQuestion(
        metric=None if lacking else named,
        missing_metric=missing,
        day=find_dates(text, *schema.metric_range(None if lacking else named))[0],
        segment=_segment(text, schema, None if lacking else named),
        about_retention=about_retention,
        unknown_metric=None if named else other or other_quantity(low, known, own),
        dimensions=find_dimensions(low, schema),
        about_accounts=_ACCOUNT_WORDS.search(low) is not None,
    )


def _segment(text: str, schema: WarehouseSchema, metric: str | None) -> dict[str, str]:
    """The segment words, leaving out the columns the asked metric's own definition filters on
    ("errors up" asks about an error rate, not about the segment status=error)."""
    found = find_segment(text, schema)
    if metric is None:
        return found
    own = schema.metric(metric).filter_columns
    return {k: v for k, v in found.items() if k not in own}


def find_unknown_metric(low: str, schema: WarehouseSchema) -> str | None:
    """A common business metric the text asks about that neither the catalogue nor this
    warehouse defines (none of its dimension values either), as written in the text."""
    values = {v.lower() for d in schema.dimensions for v in d.values}
    for phrase in _OTHER_METRICS:
        m = re.search(rf"(?<![\w.]){re.escape(phrase)}(?![\w])", low)
        if m and phrase not in values and phrase.replace(" ", "_") not in values:
            return m[0]
    return None


def _inside(
    low: str, phrase: str, metric: str, known: list[str], own: Mapping[str, catalogue.Metric]
) -> bool:
    """Whether every mention of ``metric`` in the text lies within ``phrase`` (a metric outside
    the catalogue, as :func:`find_unknown_metric` found it)."""
    spans = [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), low)]
    mentions = [f for f in _mentions(low, known, own) if f[0] == metric]
    return bool(mentions) and all(any(s <= f[1] and f[2] <= e for s, e in spans) for f in mentions)


def find_dimensions(low: str, schema: WarehouseSchema) -> tuple[str, ...]:
    """Dimensions named in the text ("event type", "countries", "app_version"), in order."""
    found: list[tuple[int, str]] = []
    for dim in schema.dimensions:
        words = dim.name.lower().replace("_", " ")
        forms = {dim.name.lower(), words, words + "s", words + "es"}
        if words.endswith("y"):
            forms.add(words[:-1] + "ies")
        at = [m.start() for f in forms for m in re.finditer(rf"(?<![\w.]){re.escape(f)}\b", low)]
        if at:
            found.append((min(at), dim.name))
    return tuple(name for _, name in sorted(found))


def _has_phrase(low: str, phrase: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(phrase.lower()) + r"(?![\w])", low) is not None


def find_metric(
    low: str, metrics: list[str], own: Mapping[str, catalogue.Metric] | None = None
) -> str | None:
    """The metric the text asks about: the longest name, label or synonym found, leaving out
    metrics only said to look normal ("DAU dropped while events look normal" is about DAU).
    ``own``: the user's definitions (their labels and synonyms), by name."""
    low = _ACCOUNT_WORDS.sub(lambda m: " " * len(m[0]), low)  # "new users" names no metric
    mentions = _mentions(low, metrics, own or {})
    found = _qualified(low, [f for f in mentions if _head_after(low, f, own or {}) is None])
    spans = [(f[1], f[2]) for f in found]
    asked = [f for f in found if not _said_normal(low, f[1], f[2], spans)] or found
    best = max(asked, key=lambda f: (f[2] - f[1], -f[1]), default=None)
    return best[0] if best else None


def _mentions(
    low: str, metrics: list[str], own: Mapping[str, catalogue.Metric]
) -> list[tuple[str, int, int]]:
    """(metric, start, end) of every phrase naming one of ``metrics``, longest at each place."""
    hits: list[tuple[str, int, int]] = []
    for metric in metrics:
        for phrase in _names_of(metric, own):
            for m in re.finditer(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", low):
                hits.append((metric, m.start(), m.end()))
    if not hits:
        hits = _misspelt(low, metrics, own)
    hits.sort(key=lambda h: (h[1], -(h[2] - h[1])))
    kept: list[tuple[str, int, int]] = []
    for h in hits:
        if not any(k[1] <= h[1] < k[2] or h[1] <= k[1] < h[2] for k in kept):
            kept.append(h)
    return kept


def _names_of(metric: str, own: Mapping[str, catalogue.Metric]) -> tuple[str, ...]:
    """Every phrase naming ``metric``: a user's definition's own, with the catalogue's words
    for a catalogue metric it redefines (an ``error_rate`` of one's own is still "errors")."""
    if metric not in own:
        return _phrases(metric)
    try:
        theirs = catalogue.get(metric).phrases
    except KeyError:
        theirs = ()
    return tuple(dict.fromkeys([*_own_phrases(own[metric]), *theirs]))


MIN_FUZZY = 5  # shorter words are too easily one letter from another
FUZZY_CUTOFF = 0.85


def _misspelt(
    low: str, metrics: list[str], own: Mapping[str, catalogue.Metric]
) -> list[tuple[str, int, int]]:
    """Words that are close misspellings of a one-word metric phrase ("erors", "purchses",
    "convertion"): same first letter, neither inside the other (so "event" is not "events")."""
    words = {p: metric for metric in metrics for p in _names_of(metric, own) if p.isalpha()}
    long = [p for p in words if len(p) >= MIN_FUZZY]
    hits: list[tuple[str, int, int]] = []
    for m in re.finditer(r"[a-z]+", low):
        w = m[0]
        if len(w) < MIN_FUZZY or w in _COMMON_WORDS:
            continue
        for close in difflib.get_close_matches(w, long, n=3, cutoff=FUZZY_CUTOFF):
            if close[0] == w[0] and w not in close and close not in w:
                hits.append((words[close], m.start(), m.end()))
                break
    return hits


def _own_phrases(metric: catalogue.Metric) -> tuple[str, ...]:
    """A user-defined metric's phrases, with the singular of a one-word plural name: metrics
    are named by plural nouns ("orders", "carts") and asked about in compounds ("order
    volume", "cart count")."""
    phrases = metric.phrases
    singular = [
        p[:-1] for p in phrases if " " not in p and len(p) > 3 and p.endswith("s") and p[-2] != "s"
    ]
    return tuple(dict.fromkeys([*phrases, *singular]))


def other_quantity(
    low: str, metrics: list[str], own: Mapping[str, catalogue.Metric] | None = None
) -> str | None:
    """A quantity the text asks about that a metric's name only qualifies ("order value",
    "session length"), as written: no metric of ``metrics`` is it."""
    low = _ACCOUNT_WORDS.sub(lambda m: " " * len(m[0]), low)
    for f in _mentions(low, metrics, own or {}):
        head = _head_after(low, f, own or {})
        if head is not None:
            return low[f[1] : head]
    return None


# Head nouns of quantities of their own: after a metric's name ("order value", "session time",
# "purchase rate") they make a different quantity of which that name is only a qualifier.
_HEADS = (
    "value",
    "rate",
    "time",
    "ratio",
    "size",
    "duration",
    "length",
    "share",
    "price",
    "cost",
    "margin",
    "score",
)
_HEAD = re.compile(r"(?:'s|\u2019s|'|\u2019)?\s+(" + "|".join(_HEADS) + r")s?(?![\w])")


def _head_after(
    low: str, mention: tuple[str, int, int], own: Mapping[str, catalogue.Metric]
) -> int | None:
    """Where the head noun that directly follows ``mention`` ends, if one does and it is no
    word of that metric's own phrases ("conversion rate" is conversion, "order value" is not
    orders)."""
    m = _HEAD.match(low, mention[2])
    if m is None:
        return None
    words = {w for p in _names_of(mention[0], own) for w in re.findall(r"\w+", p)}
    return None if m[1] in words else m.end()


# Words that name a metric only in general: qualified by the noun before them ("order volume",
# "checkout traffic") they speak of that noun's metric.
_GENERIC = frozenset({"volume", "activity", "traffic", "usage", "count", "numbers"})


def _qualified(low: str, found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """``found`` without generic words that directly follow another metric's mention."""
    ends = {end for _, _, end in found}
    return [
        f
        for f in found
        if not (low[f[1] : f[2]] in _GENERIC and f[1] - 1 in ends and low[f[1] - 1] == " ")
    ] or found


def _phrases(metric: str) -> tuple[str, ...]:
    try:
        return catalogue.get(metric).phrases
    except KeyError:  # a metric the catalogue does not hold: its own name only
        return (metric.lower(), metric.lower().replace("_", " "))


_CLAUSE_BREAK = re.compile(
    r"\b(?:while|but|whereas|although|though|yet|when|even if|despite|so)\b|[,;.?!]"
)
_NORMAL = re.compile(
    r"\b(?:normal|fine|flat|stable|steady|unchanged|ok|okay|healthy|as usual|the same|"
    r"as expected|in line|constant|unaffected|held up|held steady|did not|didn't|has not|"
    r"hasn't|have not|haven't|not changed|not moved?)\b"
)


def _said_normal(low: str, start: int, end: int, mentions: list[tuple[int, int]]) -> bool:
    """Whether a word of its clause says that this mention (of ``mentions``) looks normal: each
    such word speaks of the mention nearest to it in the clause."""
    lo = max((m.end() for m in _CLAUSE_BREAK.finditer(low, 0, start)), default=0)
    nxt = _CLAUSE_BREAK.search(low, end)
    hi = nxt.start() if nxt else len(low)
    near = [(s, e) for s, e in mentions if lo <= s and e <= hi]
    for word in _NORMAL.finditer(low, lo, hi):
        nearest = min(near, key=lambda m: _gap(m, word.start(), word.end()))
        if nearest == (start, end):
            return True
    return False


def _gap(mention: tuple[int, int], start: int, end: int) -> int:
    return start - mention[1] if start >= mention[1] else mention[0] - end


# -- dates ---------------------------------------------------------------------------------------


def _with_year(month: int, day_of_month: int, start: date, end: date) -> date | None:
    """The date with that month/day whose year puts it inside (or nearest to) the data range."""
    best: date | None = None
    for year in range(start.year - 1, end.year + 2):
        try:
            cand = date(year, month, day_of_month)
        except ValueError:
            continue
        dist = 0 if start <= cand <= end else min(abs((cand - start).days), abs((cand - end).days))
        if best is None or dist < _dist(best, start, end):
            best = cand
    return best


def _dist(d: date, start: date, end: date) -> int:
    return 0 if start <= d <= end else min(abs((d - start).days), abs((d - end).days))


def find_dates(text: str, start: date, end: date) -> tuple[date | None, tuple[date, date] | None]:
    """(a day mentioned, a period mentioned), relative phrases resolved against ``end``."""
    low = text.lower()
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", low)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])), None
        except ValueError:
            pass
    m = re.search(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}}){_ORD}\b(?:,?\s*(\d{{4}}))?", low)
    if m is None:
        m2 = re.search(
            rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTH_RE})\b\.?(?:,?\s*(\d{{4}}))?", low
        )
        if m2:
            month, dom, year = MONTHS[m2[2]], int(m2[1]), m2[3]
            found = _resolve(month, dom, year, start, end)
            if found:
                return found, None
    else:
        found = _resolve(MONTHS[m[1]], int(m[2]), m[3], start, end)
        if found:
            return found, None
    m = re.search(r"(?<![\d.])(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?(?![\d.])", low)
    if m and _is_version(low, m):
        m = None  # "the android 2.5 release", "v2.5": a version number, not 2 May
    if m:
        a, b = int(m[1]), int(m[2])
        year = m[3] if m[3] is None or len(m[3]) == 4 else f"20{m[3]}"
        # day/month unless that is impossible and month/day is not
        month, dom = (b, a) if b <= 12 and not (a <= 12 < b) else (a, b)
        found = _resolve(month, dom, year, start, end)
        if found:
            return found, None
    part = _month_part(low, start, end)
    if part is not None:
        return None, part
    return _relative(low, end)


# the words people call a release by ("did the hotfix cause it?", "the 2.5 update")
RELEASE_WORDS = (
    r"(?:release[sd]?|releases|version|versions|update[sd]?|builds?|rollouts?|deploy\w*"
    r"|hotfix(?:es)?|patch(?:es)?|upgrades?|launch)"
)
# words next to a dotted number that make it a version ("2.5 release", "app 2.5", "v2.5")
_VERSION_CONTEXT = re.compile(rf"\b(?:{RELEASE_WORDS}|ship\w*|app)\b")


def _is_version(low: str, m: re.Match[str]) -> bool:
    """Whether a dotted number without a year reads as a version: "v" right before it, or a
    release word as the word before it or one of the two after it."""
    if m[3] is not None or "." not in m[0]:
        return False
    before = low[: m.start()]
    near = " ".join([*before.split()[-1:], *low[m.end() :].split()[:2]])
    return before.endswith("v") or _VERSION_CONTEXT.search(near) is not None


def _resolve(month: int, dom: int, year: str | None, start: date, end: date) -> date | None:
    if year:
        try:
            return date(int(year), month, dom)
        except ValueError:
            return None
    return _with_year(month, dom, start, end)


def _month_part(low: str, start: date, end: date) -> tuple[date, date] | None:
    """ "early/mid/late <month>", "the start/end of <month>", or just "in <month>"."""
    m = re.search(
        rf"\b(early|beginning of|start of|mid|middle of|late|end of)[\s-]+({_MONTH_RE})\b", low
    )
    part = m[1] if m else None
    if m is None:
        m = re.search(rf"\b(?:in|during|since|over) ({_MONTH_RE})\b", low)
        if m is None:
            return None
    month = MONTHS[m[2] if part else m[1]]
    first = _with_year(month, 1, start, end)
    if first is None:
        return None
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if part in ("early", "beginning of", "start of"):
        return first, first + timedelta(days=9)
    if part in ("mid", "middle of"):
        return first + timedelta(days=9), first + timedelta(days=19)
    if part in ("late", "end of"):
        return last - timedelta(days=9), last
    return first, last


def _relative(low: str, end: date) -> tuple[date | None, tuple[date, date] | None]:
    if re.search(r"\btoday\b", low):
        return end, None
    if re.search(r"\byesterday\b", low):
        return end - timedelta(days=1), None
    m = re.search(rf"\b(?:last|on|since|this past) ({'|'.join(_WEEKDAYS)})\b", low)
    if m:  # the latest such weekday before the data's last day
        back = (end.weekday() - _WEEKDAYS.index(m[1])) % 7 or 7
        return end - timedelta(days=back), None
    m = re.search(r"\b(\d{1,3}) days? ago\b", low)
    if m:
        return end - timedelta(days=int(m[1])), None
    m = re.search(r"\b(?:last|past) (\d{1,3}) days\b", low)
    if m:
        return None, (end - timedelta(days=int(m[1]) - 1), end)
    if re.search(r"\b(?:this|past) week\b|\blast 7 days\b", low):
        return None, (end - timedelta(days=6), end)
    if re.search(r"\blast week\b", low):
        return None, (end - timedelta(days=13), end - timedelta(days=7))
    m = re.search(r"\b(\d{1,2}) weeks? ago\b", low)
    if m:
        k = int(m[1])
        return None, (end - timedelta(days=7 * k + 6), end - timedelta(days=7 * k))
    if re.search(r"\b(?:this|past|last) month\b", low):
        return None, (end - timedelta(days=29), end)
    return None, None


# -- segments ------------------------------------------------------------------------------------


def find_segment(text: str, schema: WarehouseSchema) -> dict[str, str]:
    """Dimension values the text mentions, matched to the warehouse's actual values.

    Exact (case-insensitive) word matches first; short or common-word values must be written
    exactly as stored (so "in" is not India's ``IN``); country names map to ISO codes present in
    a dimension; finally close spellings (difflib) of longer words.
    """
    low = text.lower()
    words = set(re.findall(r"[\w.+-]+", low))
    found: dict[str, str] = {}
    for dim in schema.dimensions:
        values = [v for v in dim.values if _mentionable(v)]
        if dim.name == "event_type" and not _mentions_event_type(low, values):
            continue
        hit = _match_values(text, low, words, values)
        if hit is not None:
            found[dim.name] = hit
    return found


def _mentionable(value: str) -> bool:
    """Whether a question can name this value: not empty, punctuation only ("?", "-") or N/A."""
    return bool(_ALNUM.search(value)) and not _NOT_APPLICABLE.match(value)


def _mentions_event_type(low: str, values: list[str]) -> bool:
    return any(_has_phrase(low, v.replace("_", " ")) or _has_phrase(low, v) for v in values)


def _match_values(text: str, low: str, words: set[str], values: list[str]) -> str | None:
    # 1. the value itself, as a whole word
    for value in values:
        v = value.lower()
        if len(v) <= 2 or v in _COMMON_WORDS:
            if re.search(r"(?<![\w.])" + re.escape(value) + r"(?![\w])", text):
                return value
            continue
        if _has_phrase(low, v) or _has_phrase(low, v.replace("_", " ")):
            return value
    # 2. a country name for a code that is one of the values
    upper = {v.upper(): v for v in values}
    for code, names in COUNTRY_NAMES.items():
        if code in upper and any(_has_phrase(low, n) for n in names):
            return upper[code]
    # 3. a value that is a name whose code the text uses ("IN" written in capitals), or fuzzy
    long_values = {v.lower(): v for v in values if len(v) >= 4}
    for w in words:
        if len(w) < 4 or w in _COMMON_WORDS:
            continue
        close = difflib.get_close_matches(w, list(long_values), n=1, cutoff=0.85)
        if close:
            return long_values[close[0]]
    return None
