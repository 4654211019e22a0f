"""QA files → an index of their contexts → every question asked → P@1, R@5, MRR, abstention.

The ReQA protocol: every sentence of the corpus is a candidate; a question is answered right when
the gold sentence (the one holding an annotator's answer span) ranks first and is cited to the right
article. Records in the SQuAD schema, answer-sentence selection sets (WikiQA, TrecQA: candidate
sentences with 0/1 labels) and scripted conversations (records with "turns") are read.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.models import Article

RANK_DEPTH = 100


@dataclass
class Question:
    """A question with its gold article and answer spans mapped into that article's text.

    `whole_sentences`: the spans are whole candidate sentences (WikiQA, TrecQA), not answer phrases,
    and `answers` their texts.
    """

    id: str
    question: str
    article_id: str
    spans: list[tuple[int, int]]
    impossible: bool
    question_date: dt.date | None = None
    whole_sentences: bool = False
    answers: tuple[str, ...] = ()


@dataclass
class Script:
    """A scripted conversation: turns asked in order in one chat, each with the article it should quote."""

    id: str
    turns: list[Question]


@dataclass(frozen=True)
class _Block:
    """A record's context as it goes into its article, and where each piece of the context went."""

    text: str
    pieces: tuple[tuple[int, int, int], ...]  # (start in the context, length, start in `text`)

    def place(self, start: int) -> int:
        """Where the context offset `start` lies in `text`."""
        for old, length, new in self.pieces:
            if old <= start < old + length:
                return new + start - old
        raise ValueError(f"offset {start} is in no candidate sentence")


def _records(paths: Iterable[Path]) -> list[dict]:
    """Every JSON line of the files, in order."""
    return [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]


def _article_id(record: dict) -> str:
    """The article a record is about: its context_title, or the record itself when it has none (TrecQA)."""
    return record["context_title"] or str(record["id"])


def _block(record: dict) -> _Block:
    """The context as is, or with `sentence_starts` each candidate sentence as its own paragraph.

    Own paragraphs keep newsdesk's splitter from merging two candidates. Candidates of a record without
    a title come from many documents with the correct ones listed first (TrecQA): they are shuffled, with
    the record id as seed, so that neither position nor neighbours give the answer away.
    """
    context = record["context"]
    if "sentence_starts" not in record:
        return _Block(context, ((0, len(context), 0),))
    starts = record["sentence_starts"]
    candidates = []
    for start, end in zip(starts, [*starts[1:], len(context)]):
        raw = context[start:end]
        if raw.strip():
            candidates.append((start + len(raw) - len(raw.lstrip()), raw.strip()))
    if not record["context_title"]:
        random.Random(str(record["id"])).shuffle(candidates)
    pieces, position = [], 0
    for start, text in candidates:
        pieces.append((start, len(text), position))
        position += len(text) + 2
    return _Block("\n\n".join(text for _, text in candidates), tuple(pieces))


def read_qa(paths: Iterable[Path]) -> tuple[list[Article], list[Question]]:
    """Join the contexts of records with the same article id into one article, in order; map answers into it.

    A record without a "context" is about an article of a separate corpus (`newsdesk eval --articles`):
    its context_title is that article's id and its answer offsets point into the article's text.
    Conversation records ("turns") are left to `read_conversations`.
    """
    records = [r for r in _records(paths) if "turns" not in r]
    blocks = [_block(r) if "context" in r else None for r in records]
    offsets: dict[str, dict[str, int]] = {}
    titles: dict[str, str] = {}
    for record, block in zip(records, blocks):
        if block is not None:
            article_blocks = offsets.setdefault(_article_id(record), {})
            titles[_article_id(record)] = record["context_title"]
            if block.text not in article_blocks:
                article_blocks[block.text] = sum(len(b) + 2 for b in article_blocks)
    articles = [Article(id=id_, title=titles[id_], text="\n\n".join(texts), origin="qa")
                for id_, texts in offsets.items()]
    questions = [_question(r, _placer(offsets, r, b)) for r, b in zip(records, blocks)]
    return articles, questions


def _placer(offsets: dict[str, dict[str, int]], record: dict, block: _Block | None) -> Callable[[int], int]:
    """Context offset → offset in the joined article (unchanged for a record that points into a corpus article)."""
    if block is None:
        return lambda start: start
    offset = offsets[_article_id(record)][block.text]
    return lambda start: offset + block.place(start)


def read_conversations(paths: Iterable[Path]) -> list[Script]:
    """The scripted conversations: {"id", "turns": [{"question", "article_id", "answers"?, "answer_starts"?}]}.

    Answer offsets point into the turn's article as stored (a corpus article given with --articles).
    """
    return [Script(str(r["id"]), _turns(r)) for r in _records(paths) if "turns" in r]


def _turns(record: dict) -> list[Question]:
    """A conversation's turns as questions with ids CONVERSATION#1, #2, ..."""
    return [_question({**turn, "id": f"{record['id']}#{n}", "context_title": turn["article_id"]}, lambda start: start)
            for n, turn in enumerate(record["turns"], start=1)]


def _question(record: dict, place: Callable[[int], int]) -> Question:
    """One QA record; each annotator's answer becomes a [start, end) span in its article."""
    starts = record.get("answer_starts") or ([record["answer_start"]] if record.get("answer_start") is not None else [])
    spans = [(place(s), place(s) + len(a)) for s, a in zip(starts, record.get("answers") or [])]
    asked_on = record.get("question_date")
    return Question(id=str(record["id"]), question=record["question"], article_id=_article_id(record),
                    spans=spans, impossible=bool(record.get("is_impossible")),
                    question_date=dt.date.fromisoformat(asked_on[:10]) if asked_on else None,
                    whole_sentences="sentence_starts" in record, answers=tuple(record.get("answers") or ()))


def evenly(items: list, count: int) -> list:
    """`count` of `items` spread evenly from the first on: every k-th when count = len / k (all when count >= len)."""
    n = len(items)
    return list(items) if count >= n else [items[-(-i * n // count)] for i in range(max(count, 0))]


def sample_off_corpus(questions: list[Question], indexed: set[str], cap: int) -> list[Question]:
    """Every question about an indexed article and at most `cap` of the others, spread evenly, in their order."""
    off = [n for n, q in enumerate(questions) if q.article_id not in indexed]
    kept = set(evenly(off, cap))
    return [q for n, q in enumerate(questions) if q.article_id in indexed or n in kept]


@dataclass
class Scores:
    """Running totals over the questions and scripted conversations asked."""

    answerable: int = 0
    p_at_1: int = 0
    r_at_5: int = 0
    reciprocal_ranks: float = 0.0
    right_article: int = 0
    decided: int = 0  # answers that carried an abstention decision (none do from the dense baseline)
    answered_answerable: int = 0
    impossible: int = 0
    answered_impossible: int = 0
    off_corpus: int = 0
    answered_off_corpus: int = 0
    conversations: int = 0
    conversations_right: int = 0
    turns: int = 0
    turns_right: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def report(self) -> dict:
        """The figures `newsdesk eval` prints; a share is null where there was nothing to count (no off-corpus
        questions, no conversations) or nothing decided whether to answer (the dense baseline)."""
        lat = sorted(self.latencies_ms) or [0.0]
        asked = self.answerable + self.impossible + self.off_corpus
        return {
            "questions": asked, "answerable": self.answerable,
            "P@1": _share(self.p_at_1, self.answerable), "R@5": _share(self.r_at_5, self.answerable),
            "MRR": _share(self.reciprocal_ranks, self.answerable),
            "citation_accuracy": _share(self.right_article, self.answerable),
            "answered_when_answerable": self._answered(self.answered_answerable, self.answerable),
            "impossible": self.impossible,
            "answered_when_impossible": self._answered(self.answered_impossible, self.impossible),
            "off_corpus": self.off_corpus,
            "answered_when_off_corpus": self._answered(self.answered_off_corpus, self.off_corpus),
            "conversations": self.conversations, "conversation_turns": self.turns,
            "turns_right_article": _share(self.turns_right, self.turns),
            "conversations_all_right": _share(self.conversations_right, self.conversations),
            "questions_per_s": round(asked / max(self.seconds, 1e-9), 1),
            "latency_ms_p50": round(lat[len(lat) // 2], 1), "latency_ms_p95": round(lat[int(len(lat) * 0.95)], 1),
        }

    def _answered(self, answered: int, total: int) -> float | None:
        """Share answered of `total`, or None when nothing decided whether to answer (a baseline)."""
        return _share(answered, total) if self.decided else None


def _share(part: float, whole: int) -> float | None:
    """part / whole, or None when there was nothing to count."""
    return round(part / whole, 4) if whole else None


def _cites(sentence, article_id: str) -> list:
    """The sentence's citations in `article_id`: its own and those of the duplicate stories it was collapsed from."""
    return [c for c in (sentence.citation, *sentence.also_reported_by) if c.article_id == article_id]


def gold_rank(question: Question, answer) -> int | None:
    """1-based rank of the first returned sentence that answers in the gold article.

    A sentence answers when it holds an answer span. Where the gold are whole candidate sentences, it also
    answers when it is part of one (newsdesk's splitter cuts some TrecQA candidates in two), or is one
    word for word from another article (a fifth of TrecQA's questions share a correct sentence with
    another question's candidates, and which copy ranks first is chance).
    """
    for rank, sentence in enumerate(answer.sentences, start=1):
        if question.whole_sentences and sentence.text in question.answers:
            return rank
        for c in _cites(sentence, question.article_id):
            if any(c.start <= a and b <= c.end or question.whole_sentences and a <= c.start and c.end <= b
                   for a, b in question.spans):
                return rank
    return None


def _right_article(question: Question, answer) -> bool:
    """Whether the first quoted sentence comes from the question's article."""
    return bool(answer.sentences) and bool(_cites(answer.sentences[0], question.article_id))


def evaluate(pipeline, questions: list[Question], min_confidence: float, filters=None,
             indexed: set[str] | None = None, progress=None, as_of: dt.date | None = None,
             conversations: Iterable[Script] = ()) -> Scores:
    """Ask every question (ranked, no abstention) and score ranks and the abstention decision; then the
    scripted conversations, turn by turn in one chat each, as a user would ask them.

    `pipeline` is a Pipeline or anything with its `ask` (the dense baseline). A question whose article is
    not in `indexed` (when given) is off-corpus: the right outcome is to abstain. Time words are resolved
    against each question's `question_date`, else `as_of`.
    """
    scores = Scores()
    began = time.perf_counter()
    for question in questions:
        asked = time.perf_counter()
        answer = pipeline.ask(question.question, top=RANK_DEPTH, abstain=False, filters=filters,
                              as_of=question.question_date or as_of)
        scores.latencies_ms.append((time.perf_counter() - asked) * 1000)
        scores.decided += answer.confidence is not None
        answered = answer.confidence is not None and answer.confidence >= min_confidence
        if indexed is not None and question.article_id not in indexed:
            scores.off_corpus += 1
            scores.answered_off_corpus += answered
        elif question.impossible or not question.spans:
            scores.impossible += 1
            scores.answered_impossible += answered
        else:
            _score_answerable(scores, question, answer, answered)
        if progress:
            progress()
    scores.seconds = time.perf_counter() - began
    for script in conversations:
        _score_conversation(scores, pipeline, script, filters, as_of, progress)
    return scores


def _score_answerable(scores: Scores, question: Question, answer, answered: bool) -> None:
    """Add one answerable question's rank, first citation and abstention outcome."""
    rank = gold_rank(question, answer)
    scores.answerable += 1
    scores.p_at_1 += rank == 1
    scores.r_at_5 += rank is not None and rank <= 5
    scores.reciprocal_ranks += 1 / rank if rank else 0.0
    scores.right_article += _right_article(question, answer)
    scores.answered_answerable += answered


def _score_conversation(scores: Scores, pipeline, script: Script, filters, as_of: dt.date | None,
                        progress=None) -> None:
    """Ask a script's turns in one Conversation (default settings, abstention on); count turns answered
    from their article, and the script as right when all of them were."""
    from retrieval.conversation import Conversation

    conversation, right = Conversation(), 0
    for turn in script.turns:
        answer = pipeline.ask(turn.question, conversation=conversation, filters=filters,
                              as_of=turn.question_date or as_of)
        right += _right_article(turn, answer)
        if progress:
            progress()
    scores.conversations += 1
    scores.conversations_right += right == len(script.turns)
    scores.turns += len(script.turns)
    scores.turns_right += right
