"""What a question takes for granted, for the answer that opens a report.

:func:`read_premise` reads the form of a question, not its data: the direction it says the
metric moved ("why did X fall" claims a drop), whether it asks yes or no ("Is Brazil affected?"),
whether it blames a release ("Did the iOS release break DAU?") and which dimension it asks to
name ("Which event type dropped?"). The segment and the metric are :mod:`core.question`'s.
Nothing here knows any particular dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..warehouse.types import WarehouseSchema
from .question import RELEASE_WORDS

_DROP = re.compile(
    r"\b(?:drop(?:s|ped|ping)?|f[ae]ll(?:s|ing|en)?|declin(?:e|es|ed|ing)|decreas(?:e|es|ed|ing)"
    r"|dip(?:s|ped|ping)?|(?<!break )(?<!broken )(?<!drill )(?<!shut )(?<!slow )down"
    r"|lower|fewer|lost|los(?:e|es|ing)|plung(?:e|es|ed|ing)"
    r"|plummet(?:s|ed|ing)?|tank(?:s|ed|ing)?|shr[iu]nk|shrink(?:s|ing)?|sank|sink(?:s|ing)?"
    r"|slump(?:s|ed|ing)?|collaps(?:e|es|ed|ing)|went south|stop(?:s|ped|ping)?)\b"
)
_RISE = re.compile(
    r"\b(?:spike(?:s|d)?|spiking|ris(?:e|es|en|ing)|rose|increas(?:e|es|ed|ing)"
    r"|jump(?:s|ed|ing)?|gr[eo]w(?:s|n|ing)?|surg(?:e|es|ed|ing)|higher|climb(?:s|ed|ing)?"
    r"|soar(?:s|ed|ing)?|doubl(?:e|es|ed|ing)|boost(?:s|ed)?|shot up"
    r"|(?:go|goes|gone|going|went|is|are|was|were) up|up by)\b"
)
# an auxiliary opening a clause: a yes/no question ("Is…", "so did…", "hey, was…")
_AUX = r"(?:is|are|was|were|did|does|do|has|have|had|can|could|will|would|should|isn't|didn't)"
_WH = r"(?:why|what|how|where|which|when|who|whose)"
_OPENER = re.compile(
    rf"(?:^|[.!?,;:\n]|\b(?:so|but|and|hey|hi|also|then|ok|okay))\s*({_AUX}|{_WH})\b"
)
_CHANGE = re.compile(
    r"\b(?:break|broke|broken|wrong|issue|issues|problem|problems|anomal\w*|unusual|weird|odd"
    r"|off|affected|impacted|hit|chang(?:e|ed|es)|happen(?:ed)?|move[ds]?)\b"
)
_ONGOING = re.compile(r"\b(?:still|ongoing|continu(?:e|es|ing)|persist(?:s|ing)?)\b")
_OVER = re.compile(
    r"\b(?:over|recover(?:ed|y|ing)?|back to normal|bounced? back|ended|resolved|come back"
    r"|back (?:now|up|online)|(?:is|are) (?:it|they|things|\w+) back)\b"
)
_REAL = re.compile(r"\b(?:real|genuine|humans?|legit(?:imate)?|actual (?:people|users))\b")
_FAKE = re.compile(r"\b(?:bots?|automated|fake|spam|scrapers?|crawlers?|scripted)\b")
_NEW = re.compile(r"\bnew (?:accounts?|users?|signups?|sign-ups?)\b|\bbrand[- ]new\b")
_BROKE = re.compile(r"\b(?:break|broke|broken|bug|bugs|buggy|crash\w*|wrong|outage)\b")
_EXCLUSIVE = re.compile(r"\b(?:only|just|solely|entirely|whole|entire|all of)\b")
_REQUEST = re.compile(r"(?:can|could|would|will) (?:you|we|someone)\b")
# "X or Y?" asks which, "X or not?" whether
_EITHER = re.compile(r"\bor\b(?! not\b)")
# it takes the change for people's doing, to be welcomed or credited: "good news?", "the push
# worked", "who adopted the app?", "did the update bring people back?", "credit the release"
_WELCOME = re.compile(
    r"\b(?:good (?:news|sign)|great news|celebrat\w*|worked|paid off|pays off|paying off"
    r"|adopt(?:ed|ing|ion)?"
    r"|credit(?:ed|ing)?|thanks to|bring(?:s|ing)? (?:\w+ )?back"
    r"|brought (?:\w+ )?back|(?:people|users|ppl|customers|folks) (?:\w+ ){0,4}more)\b"
)
# a yes/no question naming a marketing cause credits people's response to it ("is that the
# new ad campaign?")
_MARKETING = re.compile(
    r"\b(?:campaigns?|marketing|promos?|promotions?|ads?|adverts?|advertising|newsletters?"
    r"|influencers?|press|launch)\b"
)
# "is it the paid channels?", "was that the release?": it names a cause to confirm
_NAMES_CAUSE = re.compile(
    r"\b(?:is|was|could|can) (?:it|this|that)(?: be)? (?:the|a|an|our|from|because|due|caused)\b"
)
# "is the UK drop related to the Indonesia one?": one cause or several
_RELATED = re.compile(
    r"\b(?:related|connected|linked|same (?:cause|issue|problem|thing|root cause)"
    r"|(?:one|a|single|common) (?:cause|root cause))\b"
)
_BOTH = re.compile(r"\b(?:both|two|each other|the other|same|one|ones|and)\b")  # two things
# how fast it claims (or asks whether) the change came: "fell off a cliff", "a sudden drop on
# a single day" vs "slowly", "gradual"
_SUDDEN = re.compile(
    r"\b(?:sudden(?:ly)?|overnight|cliff|all at once|(?:on|in) (?:a|one|a single) day"
    r"|single day"
    r"|out of nowhere|abrupt(?:ly)?|plummet\w*)\b"
)
_GRADUAL = re.compile(
    r"\b(?:gradual(?:ly)?|slowly|slow (?:decline|drift|bleed|leak)|steady|steadily"
    r"|creep(?:ing|s)?|little by little"
    r"|over (?:time|weeks|months)|week (?:after|by) week|day by day|bit by bit)\b"
)
# "should we roll back?"
_ROLLBACK = re.compile(r"\b(?:roll(?:ing)?[ -]?back|revert(?:ing)?|undo)\b")
# "how many accounts are behind it?"
_COUNT = re.compile(
    r"\bhow many (?:\w+ ){0,2}(?:accounts?|users?|people|bots?|devices?|customers?|sign-?ups?)\b"
)
# it asks whether things are as they should be: "is DAU ok?", "are January's signups sticking
# around?" (answered "No" when the metric moved the bad way)
_FINE = re.compile(
    r"\b(?:ok|okay|fine|healthy|alright|all right|on track|as expected|stick(?:ing)? around"
    r"|stay(?:ing)? (?:active|around|engaged)|retain(?:ing|ed)? well|doing (?:well|ok|fine))\b"
)
# it asks about data still arriving: "will the numbers fill in once loading catches up?"
_LOADING = re.compile(
    r"\b(?:(?:load|loads|loaded|loading)(?! of\b)|fill(?:s|ed|ing)? in|backfill\w*"
    r"|catch(?:es|ing)? up|caught up|late (?:data|rows|events)|pipeline|ingest\w*|etl)\b"
)
_RELEASE = RELEASE_WORDS
_RELEASE_WORD = re.compile(rf"\b{_RELEASE}\b")
_BLAME = re.compile(
    rf"\b{_RELEASE}\b[^?.!]*\b(?:break|broke|broken|cause[sd]?|behind|responsible|blame|hurt|kill"
    r"|killed|tank(?:ed)?|did (?:it|this))\b"
    rf"|\b(?:was|is)\s+it\s+(?:the|a|this|that|our)\b[^?.!]*\b{_RELEASE}\b"
)


@dataclass(frozen=True)
class Premise:
    """The form of a question: what it claims and what kind of answer it wants."""

    claimed: str | None = None  # "drop" | "spike": the direction it says the metric moved
    yes_no: bool = False  # a question answered "Yes" or "No"
    blames_release: bool = False  # it asks whether a release caused the change
    asked_dimension: str | None = None  # "which <dimension>…": the dimension to name
    why: bool = False  # it asks why (and so takes a change for granted)
    asks_change: bool = False  # a yes/no question whether something moved or broke
    exclusive: bool = False  # "only", "just", "the whole…": the blamed part is all of it
    named_dimension: str | None = None  # a dimension named as such ("one event type", "a country")
    other_dimension: str | None = None  # "other countries": values beyond the ones found
    every_dimension: str | None = None  # "every platform": all of a dimension's values
    ongoing: str | None = None  # "ongoing" ("still going on?") | "over" ("did it recover?")
    authenticity: str | None = None  # "real" ("real users?") | "fake" ("is it bots?")
    new_accounts: bool = False  # it asks about new accounts or signups
    blames_breakage: bool = False  # it takes for granted that something broke
    welcomes: bool = False  # it takes the change for real usage to welcome or credit
    asks_loading: bool = False  # it asks whether data is still being loaded
    asks_fine: bool = False  # a yes/no question whether things are as they should be
    asks_count: bool = False  # "how many accounts…": the count behind the change
    names_cause: bool = False  # "is it the paid channels?": a yes/no about a cause it names
    asks_related: bool = False  # "are the two drops related?": one cause or several
    asks_rollback: bool = False  # "should we roll back?"
    pace: str | None = None  # "sudden" ("fell off a cliff") | "gradual" ("slowly declining")
    words: frozenset[str] = frozenset()  # its words, lower case (ids keep their dots and dashes)


def read_premise(text: str, schema: WarehouseSchema) -> Premise:
    """Read ``text`` (see the module docstring) against the warehouse's dimension names."""
    low = " ".join(text.lower().split())
    drop, rise = bool(_DROP.search(low)), bool(_RISE.search(low))
    claimed = "drop" if drop and not rise else "spike" if rise and not drop else None
    first = _OPENER.search(low)
    if first is None:  # "dau down?": a question without a question word
        last = re.split(r"(?<=[.!?])\s", low.rstrip())[-1]
        yes_no = (
            low.rstrip().endswith("?")
            and re.search(rf"\b{_WH}\b", low) is None
            and _EITHER.search(last) is None  # "real or tracking?"
        )
    else:  # "can you break it down…" asks for something, not whether
        yes_no = re.fullmatch(_AUX, first.group(1)) is not None and not _REQUEST.match(
            low, first.start(1)
        )
        # "is it real or a tracking problem?" asks which, not whether
        clause = re.split(r"[?.!]", low[first.start(1) :], maxsplit=1)[0]
        yes_no = yes_no and _EITHER.search(clause) is None
    return Premise(
        claimed=claimed,
        yes_no=yes_no,
        blames_release=yes_no and _BLAME.search(low) is not None,
        asked_dimension=_asked_dimension(low, schema),
        exclusive=_EXCLUSIVE.search(low) is not None,
        named_dimension=_named_dimension(low, schema),
        asks_change=yes_no and (claimed is not None or _CHANGE.search(low) is not None),
        other_dimension=_dimension_after(low, schema, r"other\s+"),
        every_dimension=_dimension_after(low, schema, r"(?:every|all|each)\s+"),
        ongoing=None if not yes_no else _which(low, (("ongoing", _ONGOING), ("over", _OVER))),
        authenticity=None if not yes_no else _which(low, (("fake", _FAKE), ("real", _REAL))),
        new_accounts=_NEW.search(low) is not None,
        blames_breakage=_BROKE.search(low) is not None,
        welcomes=_WELCOME.search(low) is not None
        or (yes_no and _MARKETING.search(low) is not None),
        asks_loading=yes_no and _LOADING.search(low) is not None,
        asks_count=_COUNT.search(low) is not None,
        names_cause=yes_no and _NAMES_CAUSE.search(low) is not None,
        # "are the UK and Indonesia drops related?", not "is the drop related to the release?"
        asks_related=yes_no
        and _RELATED.search(low) is not None
        and _BOTH.search(low) is not None
        and _RELEASE_WORD.search(low) is None,
        asks_rollback=yes_no and _ROLLBACK.search(low) is not None,
        pace=_which(low, (("sudden", _SUDDEN), ("gradual", _GRADUAL))),
        asks_fine=yes_no and claimed is None and _FINE.search(low) is not None,
        words=frozenset(w.strip(".-") for w in re.findall(r"[\w.-]+", low)),
        why=re.search(r"\bwhy\b|\bhow come\b|\bwhat (?:happened|caused|broke)\b", low) is not None,
    )


def _which(low: str, options: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
    """The first option whose words the text uses."""
    return next((name for name, pattern in options if pattern.search(low)), None)


def _asked_dimension(low: str, schema: WarehouseSchema) -> str | None:
    """The dimension a "which/what <dimension>" question asks to name."""
    return _dimension_after(low, schema, r"(?:which|what)\s+")


def _named_dimension(low: str, schema: WarehouseSchema) -> str | None:
    """A dimension the question names as such ("did one event type stop…", "any country")."""
    return _dimension_after(low, schema, r"(?:which|what|one|a|an|any|some|single|specific)\s+")


def _dimension_after(low: str, schema: WarehouseSchema, lead: str) -> str | None:
    for dim in schema.dimensions:
        for name in {dim.name.lower(), dim.name.lower().replace("_", " ")}:
            forms = "|".join(re.escape(f) for f in _plurals(name))
            if re.search(rf"\b{lead}(?:{forms})\b", low):
                return dim.name
    return None


def _plurals(noun: str) -> tuple[str, ...]:
    """A noun and its plural ("country", "countries"; "platform", "platforms")."""
    if noun.endswith("y") and not noun.endswith(("ay", "ey", "oy", "uy")):
        return noun, noun[:-1] + "ies"
    return noun, noun if noun.endswith("s") else noun + "s"
