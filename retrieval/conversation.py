"""The turns of one chat, and how a follow-up question borrows from the turn before it."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from retrieval.models import Answer
from retrieval.words import MAX_RARITY, query_terms, rarity, stem, stems

# A person or thing named before: "who is their ceo?" follows up even though "ceo" is not in that story.
PRONOUNS = frozenset("he she it they him her them his hers its their theirs".split())
# Words that point back at something said before ("what did he say", "when was that").
BACK_REFERENCES = PRONOUNS | frozenset("that this those these there then".split())
FOLLOW_UP_OPENERS = ("and ", "but ", "also ", "what about ", "how about ")
# Words at most this frequent in English (Zipf 5: once in 100,000 words) name a subject.
TOPICAL_ZIPF = 5.0


@dataclass
class Conversation:
    """The last `max_turns` answers of one chat (an Answer carries its question)."""

    max_turns: int = 5
    turns: deque[Answer] = field(default_factory=deque)

    def add(self, answer: Answer) -> None:
        """Remember a turn, forgetting the oldest beyond `max_turns`."""
        self.turns.append(answer)
        while len(self.turns) > self.max_turns:
            self.turns.popleft()

    def last(self) -> Answer | None:
        """The most recent answer, e.g. for `/sources`."""
        return self.turns[-1] if self.turns else None

    def last_answered(self) -> Answer | None:
        """The most recent turn that quoted something, e.g. for `:sources` after a refusal."""
        return next((a for a in reversed(self.turns) if a.answered), None)

    def previous(self) -> Answer | None:
        """What a follow-up refers to: the most recent turn, if it quoted something. After a refused turn nothing
        is carried over: the story before it is not what the user is asking about now."""
        last = self.last()
        return last if last is not None and last.answered else None

    def quoted_first(self) -> frozenset[int]:
        """The sentence ids this conversation has quoted first: a follow-up looks for something new."""
        return frozenset(a.sentences[0].sentence_id for a in self.turns if a.answered and a.sentences[0].sentence_id)

    def clear(self) -> None:
        self.turns.clear()


@dataclass(frozen=True)
class Query:
    """What to search for: the question, widened for a follow-up, articles to favour, sentences not to quote first."""

    text: str
    prefer: frozenset[str] = frozenset()
    quoted: frozenset[int] = frozenset()


def leans_back(question: str) -> bool:
    """A question that may lean on the previous turn: "and China?", "what did he say?", "how much rain fell?".

    One that names a subject (two of three or more content words rarer than one in 100,000) or has enough
    content words of its own stands alone, even with a pronoun in it; a short one may be continuing the
    conversation, which `refers_back` and `previous_holds_subject` then decide (a name of its own, "what
    did tillerson say", is a subject the previous story lacks). Case is not evidence: people type names in
    lower case.
    """
    if question.lower().strip().startswith(FOLLOW_UP_OPENERS):
        return True
    content = [t for t in query_terms(question) if t not in BACK_REFERENCES]
    points_back = any(w.lower() in BACK_REFERENCES for w in _tokens(question))
    # A subject of its own: two rare words among three or more ("who founded kestrel robotics and ...").
    named = len(content) >= 3 and len(topical_words(question)) >= 2
    return not named and (len(content) <= 2 or (points_back and len(content) <= 4)) or len(content) <= 1


def refers_back(question: str) -> bool:
    """Whether the question holds a personal or possessive pronoun ("their", "she", "it")."""
    return any(w.lower() in PRONOUNS for w in _tokens(question))


def topical_words(question: str) -> list[str]:
    """The question's words rarer in English than one in 100,000 (Zipf 5 or less): what names a subject."""
    return [t for t in query_terms(question) if rarity(t) >= MAX_RARITY - TOPICAL_ZIPF]


def previous_holds_subject(question: str, previous_article: str) -> bool:
    """Whether the previous turn's article (its title and text) holds the question's subject: its rarest
    topical word, one rarer in English than one in 100,000 words (Zipf frequency 5 or less). "was there a
    storm?" after a story on drones brings a subject that story lacks and stands alone, while "how much
    rain fell?" after Storm Orla, or "how long will it last?" (no subject of its own), stays with it."""
    topical = topical_words(question)
    return not topical or stem(max(topical, key=rarity)) in stems(previous_article)


def _subject(question: str, headline: str) -> list[str]:
    """The question's content words that the headline of the article answering it also holds: what it was
    about ("storm orla" of "how many homes lost electricity during storm orla" under "Storm Orla batters ...")."""
    held = stems(headline)
    return [t for t in query_terms(question) if stem(t) in held]


def _tokens(question: str) -> list[str]:
    """The question's words, apostrophes kept ("what's")."""
    return re.findall(r"[\w']+", question)


def follow_up_query(question: str, previous: Answer, quoted: frozenset[int] = frozenset()) -> Query:
    """The question widened with what the previous turn was about, favouring the article that answered it.

    What it was about is the previous (widened) question's words that its answer's headline holds, or all
    its content words when the headline holds none: "how much rain fell" after a question on Storm Orla
    searches "how much rain fell storm orla". `quoted`: what the conversation already quoted first.
    """
    own = set(query_terms(question))
    before = previous.searched or previous.question
    subject = _subject(before, previous.sentences[0].citation.title) or query_terms(before)
    borrowed = [w for w in dict.fromkeys(subject) if w.lower() not in own]
    return Query(f"{question} {' '.join(borrowed)}".strip(),
                 frozenset({previous.sentences[0].citation.article_id}), quoted)
