"""What kind of answer a question asks for, and whether a sentence holds one beyond the question's own words.

who → a name (person or organisation), where → a place, when → a date or time, how many / how much →
a number or an amount. The tagger is a handful of patterns over the sentence's surface (digits and
number words, month and day names, capitalised runs, a capitalised run after "in"/"at"/"from"),
cheap enough to run over every candidate at question time, so nothing is added to the build. A
sentence "holds" a type only through words the question does not already contain: "who founded
Kestrel?" is not answered by the name Kestrel.
"""

from __future__ import annotations

import re

NAME, PLACE, TIME, NUMBER = "name", "place", "time", "number"
TYPES = (NAME, PLACE, TIME, NUMBER)

# "which town", "what's the fare", "what was the price": a question word, maybe a verb and "the", a noun.
_WHAT = r"\b(which|what)(\s?'?s| is| was| are| were| will be)?( the| a)? "
_ASKS = {
    NAME: r"\bwho(m|se)?\b|" + _WHAT + r"(company|firm|party|team|club|person|man|woman|player|group|band|bank|"
          r"minister|brand|airline|carrier|studio|network|newspaper|artist|singer|actor|actress)\b|\bname of\b",
    PLACE: r"\bwhere(abouts)?\b|" + _WHAT + r"(city|town|country|place|region|state|village|area|street|venue|"
           r"stadium|island|county|nation)\b",
    TIME: r"\bwhen\b|" + _WHAT + r"(year|date|day|month|time|season|week)\b|\bsince when\b|\bhow long ago\b",
    NUMBER: r"\bhow (many|much|long|old|far|often|big|large|tall|high|fast|deep|heavy|wide|soon)\b|" + _WHAT +
            r"(percentage|percent|share|proportion|price|rate|number|amount|score|temperature|margin|total|sum|"
            r"figure|fare|fee|salary|size|budget|value|age|speed|distance)\b|\bcost\b",
}
_ASK_PATTERNS = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in _ASKS.items()}

_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands "
    "million millions billion billions trillion dozen dozens half twice double triple quarter".split())
_MONTHS = ("january february march april may june july august september october november december "
           "jan feb mar apr jun jul aug sep sept oct nov dec").split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
# Month and day names count only capitalised ("May", not "may").
_CALENDAR = frozenset(_MONTHS + _DAYS)
_TIME_WORDS = frozenset("yesterday today tomorrow tonight morning afternoon evening night midnight noon weekend "
                        "spring summer autumn winter decade century ago".split())
YEAR = re.compile(r"^(1[5-9]|20)\d\d(s)?$")
_CLOCK = re.compile(r"\b\d{1,2}([:.]\d\d)?\s?(a\.m\.|p\.m\.|am|pm)\b|\b\d{1,2}:\d\d\b|o'clock", re.IGNORECASE)
_TOKEN = re.compile(r"[\w'’.&-]*\w")
_CAPITALISED = re.compile(r"[A-Z][\w'’.&-]*")
_LINKS = frozenset("of de van von der al la le du del & and the".split())
_LOCATIVE = frozenset("in at near from outside across on to into between inside around towards".split())
# Capitalised only for starting a sentence: not names.
_SENTENCE_OPENERS = frozenset(
    "the a an it its this that these those he she they we i you his her their our but and or so yet if when while "
    "after before as at in on by for from with there here some many most all one two both each".split())


def expected_type(question: str) -> str | None:
    """The kind of answer asked for, by the earliest question phrase in the question; None for other questions."""
    found = [(m.start(), kind) for kind, pattern in _ASK_PATTERNS.items() if (m := pattern.search(question))]
    return min(found)[1] if found else None


def types_held(sentence: str, question_words: set[str]) -> set[str]:
    """The answer types a sentence holds through words the question (lower-cased `question_words`) lacks."""
    tokens = _TOKEN.findall(sentence)
    held = set()
    new = [t for t in tokens if t.lower().strip(".") not in question_words]
    lowered = [t.lower().strip(".") for t in new]
    if any(any(ch.isdigit() for ch in t) or t in _NUMBER_WORDS for t in lowered):
        held.add(NUMBER)
    if any(t in _TIME_WORDS or YEAR.match(t) or (t in _CALENDAR and w[:1].isupper()) for t, w in zip(lowered, new)) \
            or _CLOCK.search(sentence):
        held.add(TIME)
    names, places = _names(tokens, question_words)
    if names:
        held.add(NAME)
    if places:
        held.add(PLACE)
    return held


def _names(tokens: list[str], question_words: set[str]) -> tuple[bool, bool]:
    """Whether the sentence has a capitalised run the question lacks that names someone (a person or an
    organisation), and one that follows a locative word and so names a place ("based in Harrowgate Bay")."""
    name = place = False
    in_place = False
    for i, token in enumerate(tokens):
        if not _CAPITALISED.fullmatch(token) or (i == 0 and token.lower() in _SENTENCE_OPENERS):
            in_place = False
            continue
        before = tokens[i - 1] if i else ""
        if not _CAPITALISED.fullmatch(before):  # a new run of capitalised words starts here
            in_place = before.lower() in _LOCATIVE
        word = token.lower().strip(".")
        if word in question_words or word in _CALENDAR or word in _LINKS:
            continue
        place = place or in_place
        name = name or not in_place
    return name, place
