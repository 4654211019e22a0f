"""Words as evidence: a question's content words, their stems, and how rare they are in English.

Rarity comes from a general English frequency list (wordfreq), not from the index, so the same
question weighs its words the same in an index of one article or of twenty thousand: "kestrel"
counts for more than "cost" everywhere. Stems (Snowball) let "founded" meet "founder" and "costs"
meet "cost"; paraphrases ("jailed" for "imprisoned") are left to the dense scores.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Function words and chat filler carry no evidence for BM25 or overlap ("tell me about ..."), nor does the
# "happen" of "what happened in storm orla", which asks for the story's events in any words.
STOPWORDS = frozenset(
    "a an and are as at be been by did do does for from had has have how in is it its many much of on or "
    "that the their there these this to was were what when where which who whom whose why will with "
    "i me my we us our you your can could would should shall may might must any anything anyone about "
    "tell know get got please just so if than then now yes whats s happen happens happened happening".split()
)
MAX_TERMS = 32
_WORD = re.compile(r"\w+")
# A word wordfreq has never seen (a local name, a typo) is as rare as a word can be.
MAX_RARITY = 9.0


def normalise_question(question: str) -> str:
    """The question as every stage reads it: lower case, one space between words, no closing ?, ! or ., so
    "How much does a tram ticket cost?" and "how much does a tram ticket cost" get the same answer."""
    return " ".join(question.lower().split()).rstrip("?!. ")


def words(text: str) -> list[str]:
    """Lower-cased words of a text, in order."""
    return _WORD.findall(text.lower())


def query_terms(question: str) -> list[str]:
    """Lower-cased content words of the question, in order, without repeats."""
    return list(dict.fromkeys(w for w in words(question) if w not in STOPWORDS))[:MAX_TERMS]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-case word."""
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def rarity(word: str) -> float:
    """9 minus the word's Zipf frequency in English (1 for "said", about 5 for "tram", 9 for unseen words)."""
    from wordfreq import zipf_frequency

    return max(1.0, MAX_RARITY - zipf_frequency(word, "en"))


def term_weights(question: str) -> dict[str, float]:
    """Each content word's stem → its rarity (the rarest spelling when two words share a stem)."""
    weights: dict[str, float] = {}
    for term in query_terms(question):
        key = stem(term)
        weights[key] = max(weights.get(key, 0.0), rarity(term))
    return weights


def stems(text: str) -> set[str]:
    """The set of stems of a text's words."""
    return {stem(w) for w in words(text)}


def share(weights: dict[str, float], found: set[str]) -> float:
    """Rarity-weighted share of the question's stems among `found` (1.0 for a question without content words)."""
    total = sum(weights.values())
    return sum(v for t, v in weights.items() if t in found) / total if total > 0 else 1.0


def without_topic(question: str, headline: str, names_only: bool = False) -> str:
    """The question less the words its story's headline holds (compared by stem), or with `names_only` less
    only the headline's names (its capitalised words): "did anyone get hurt in storm orla" under "Storm
    Orla brings record rainfall" → "did anyone get hurt in"; "what did tillerson urge china to do" under
    "US urges China to pressure North Korea" → "what did tillerson to do", or with names only "what did
    tillerson urge to do". What is left is what the question asks about that story; the whole question
    when nothing but function words would be left."""
    topic = {stem(w.lower()) for w in _WORD.findall(headline) if w[:1].isupper() or not names_only}
    kept = [w for w in _WORD.findall(question) if w.lower() in STOPWORDS or stem(w.lower()) not in topic]
    rest = " ".join(kept)
    return rest if any(w.lower() not in STOPWORDS for w in kept) else question
