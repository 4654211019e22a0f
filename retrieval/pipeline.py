"""`Pipeline.ask(question) -> Answer`: the one call every chat adapter makes."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import NamedTuple

from embeddings.storage import database
from embeddings.encoder import Encoder, make_encoder
from embeddings.storage.reader import IndexReader
from embeddings.models import Article
from embeddings.segment import paragraph_spans
from retrieval.answerer import ExtractiveAnswerer, Judgement
from retrieval.calibration import MIN_CONFIDENCE
from retrieval.abstention import AnswerabilityModel, chance_score, unrelated_questions
from retrieval.conversation import (Conversation, Query, follow_up_query, leans_back,
                                   previous_holds_subject, refers_back, topical_words)
from retrieval.filters import Filters, parse_inline
from retrieval.models import Answer
from retrieval.reading import ReadingRanker
from retrieval.retriever import HybridRetriever
from retrieval.timeparse import TimeQuery, parse_time
from retrieval.words import normalise_question

# Questions are cut here before anything else (the model reads at most 256 word pieces anyway, and
# BM25 over a huge question is slow).
MAX_QUESTION_CHARS = 1000


class SentenceContext(NamedTuple):
    """A stored sentence located in its article: the sentence's and its paragraph's [start, end) offsets."""

    article: Article
    start: int
    end: int
    paragraph: tuple[int, int]


class _Asked(NamedTuple):
    """What was asked, besides the text searched: how many sentences, whether to abstain, the bounds."""

    question: str
    top: int
    abstain: bool
    filters: Filters
    recent: dt.date | None


class Pipeline:
    """Question → retriever → answerer → Answer, over the index at `index_dir`.

    The index is loaded on first use and reloaded when a writer commits a newer generation,
    so a long-running bot picks up a rebuild without a restart.
    """

    def __init__(self, index_dir: Path, encoder: Encoder | None = None, top_passages: int = 20,
                 min_confidence: float = MIN_CONFIDENCE, passage_weight: float = 0.5, time_aware: bool = True,
                 reading: ReadingRanker | None = None, abstention: AnswerabilityModel | None = None):
        self.index_dir = Path(index_dir)
        self.encoder = encoder or make_encoder()
        self.retriever = HybridRetriever(top_passages)
        self.answerer = ExtractiveAnswerer(self.encoder, min_confidence, passage_weight, abstention, reading=reading)
        self.time_aware = time_aware  # False reads time words as plain words (for measuring what they add)
        self._index: IndexReader | None = None
        self._unrelated = None  # vectors of abstention.unrelated_questions(), embedded on first use
        self._chance: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._chance_lock = threading.Lock()

    @property
    def index(self) -> IndexReader:
        """The current generation of the index, (re)loaded when it changed on disk."""
        with self._lock:
            if self._index is None or self._index.is_stale():
                fresh = IndexReader.open(self.index_dir, self.encoder.name, self.encoder.dim,
                                         backend=self.encoder.backend)
                if self._index is not None:
                    self._index.close()
                self._index = fresh
            return self._index

    def ask(self, question: str, conversation: Conversation | None = None, top: int = 3,
            abstain: bool = True, filters: Filters | None = None, as_of: dt.date | None = None) -> Answer:
        """Answer with up to `top` quoted sentences, or say the articles do not cover the question.

        `since:`/`until:`/`source:` words in the question add to `filters`, and so do explicit time
        words ("in March", "yesterday", resolved against `as_of`, today by default); vague ones
        ("latest", "this week") favour recent articles instead. A question that leans on the previous
        turn (a pronoun, or no subject that the previous turn's article lacks) borrows that turn's key
        words and favours the article that answered it.
        """
        question, inline = parse_inline(" ".join(question.split())[:MAX_QUESTION_CHARS])
        searched = normalise_question(question)
        timed = parse_time(searched, as_of) if self.time_aware else TimeQuery(searched, Filters())
        filters = (filters or Filters()).merged(timed.filters).merged(inline)
        index = self.index
        if not question:
            answer = Answer(question=question, answered=False)
        else:
            previous = conversation.previous() if conversation else None
            alone = self.encoder.encode([timed.text])[0]  # the question as it stands, searched unless it follows up
            follows = previous is not None and self._follows(index, timed.text, alone, previous)
            query = follow_up_query(timed.text, previous, conversation.quoted_first()) if follows else Query(timed.text)
            vector = self.encoder.encode([query.text[:MAX_QUESTION_CHARS]])[0] if follows else alone
            answer = self._answer(index, _Asked(question, top, abstain, filters, timed.recent), query, vector)
        undated = filters.undated_sql()
        if undated is not None:
            answer.undated_left_out = database.count_articles_where(index.db, undated)
        if conversation is not None:
            conversation.add(answer)
        return answer

    def _answer(self, index: IndexReader, asked: "_Asked", query: Query, vector) -> Answer:
        """Search for `query` (embedded as `vector`) and let the answerer quote or abstain."""
        candidates = self.retriever.run(index, query.text, vector, asked.filters)
        prefer = database.article_rowids(index.db, query.prefer)
        return self.answerer.run(index, asked.question, vector, candidates, top=asked.top, abstain=asked.abstain,
                                 prefer=prefer, searched=query.text, recent=asked.recent, filters=asked.filters,
                                 chance=self.chance(index), quoted=query.quoted)

    def judge(self, question: str) -> tuple[list, "Judgement"] | None:
        """(candidates, judgement) exactly as the answerer sees a stand-alone question with no filters, or
        None without candidates: what fitting and the tests inspect."""
        index = self.index
        question = normalise_question(question[:MAX_QUESTION_CHARS])
        vector = self.encoder.encode([question])[0]
        candidates = self.retriever.run(index, question, vector)
        if not candidates:
            return None
        return candidates, self.answerer.assess(index, question, vector, candidates, chance=self.chance(index))

    def _follows(self, index: IndexReader, question: str, vector, previous: Answer) -> bool:
        """Whether a question continues the previous turn: it leans back with a pronoun ("who is their ceo?"),
        or leans back otherwise and brings no subject of its own that the previous turn's article lacks; one
        with a subject must also find its best passage in that article when asked alone ("who got elected in
        ostry?" after the Ostry tram story names the town, but points at the election story)."""
        if not leans_back(question):
            return False
        if refers_back(question):
            return True
        article = database.get_article(index.db, previous.sentences[0].citation.article_id)
        if article is None or not previous_holds_subject(question, f"{article.title}\n{article.text}"):
            return False
        return not topical_words(question) or self._first_passage_in(index, vector, article.id)

    def _first_passage_in(self, index: IndexReader, vector, article_id: str) -> bool:
        """Whether the question alone (embedded as `vector`) finds its best passage in the article `article_id`."""
        _, ids = index.search_passages(vector, 1)
        if ids[0][0] < 0:
            return False
        [(rowid, _, _)] = database.passages_by_id(index.db, [int(ids[0][0])]).values()
        return rowid in database.article_rowids(index.db, [article_id])

    def chance(self, index: IndexReader) -> float:
        """What unrelated questions score on this generation of the index (computed once per generation,
        by one thread while concurrent questions wait for it)."""
        with self._chance_lock:
            if self._chance is None or self._chance[0] != index.generation:
                if self._unrelated is None:
                    self._unrelated = self.encoder.encode(unrelated_questions())
                self._chance = (index.generation, chance_score(index, self._unrelated))
            return self._chance[1]

    def warm(self) -> None:
        """Load all a first question needs (model, index, fitted weights, word lists, chance level) now, once:
        a server hit by many questions at start would otherwise load them in every worker thread at once."""
        self.encoder.load()
        self.judge("what happened in the news")

    def article(self, article_id: str) -> Article | None:
        """The stored article, as quoted from."""
        return database.get_article(self.index.db, article_id)

    def context(self, sentence_id: int) -> SentenceContext | None:
        """Where a stored sentence sits in its article, for "show the source"; None once it is gone."""
        index = self.index
        rows = database.sentences_by_id(index.db, [sentence_id])
        if not rows:
            return None
        rowid, start, end = rows[0][1], rows[0][4], rows[0][5]
        article = database.get_articles_by_rowid(index.db, [rowid])[rowid]
        paragraph = next(((a, b) for a, b in paragraph_spans(article.text) if a <= start < b), (start, end))
        return SentenceContext(article, start, end, paragraph)

    def stats(self) -> dict:
        """Counts, model and size of the index, for `newsdesk stats` and the bot's /start."""
        return self.index.stats()

    def overview(self) -> dict:
        """Sources, first and last dates, newest headlines: what the web page shows before the first question."""
        return self.index.overview()
