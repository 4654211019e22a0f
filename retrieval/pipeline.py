"""`Pipeline.ask(question) -> Answer`: the one call every chat adapter makes."""

from __future__ import annotations

import threading
from pathlib import Path

from embeddings import database
from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.index import IndexReader
from embeddings.models import Article
from retrieval.answerer import ExtractiveAnswerer
from retrieval.conversation import Conversation
from retrieval.models import Answer
from retrieval.retriever import HybridRetriever

# Questions are cut here before embedding: the model reads at most 256 word pieces anyway.
MAX_QUESTION_CHARS = 1000
# Chosen with scripts/bench_abstention.py: keeps most answerable questions, drops off-topic ones.
DEFAULT_MIN_SCORE = 0.35


class Pipeline:
    """Question → retriever → answerer → Answer, over the index at `index_dir`.

    The index is loaded on first use and reloaded when a writer commits a newer generation,
    so a long-running bot picks up a rebuild without a restart.
    """

    def __init__(self, index_dir: Path, encoder: Encoder | None = None, top_passages: int = 20,
                 min_score: float = DEFAULT_MIN_SCORE, passage_weight: float = 0.5):
        self.index_dir = Path(index_dir)
        self.encoder = encoder or SentenceTransformerEncoder()
        self.retriever = HybridRetriever(top_passages)
        self.answerer = ExtractiveAnswerer(min_score, passage_weight)
        self._index: IndexReader | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> IndexReader:
        """The current generation of the index, (re)loaded when it changed on disk."""
        with self._lock:
            if self._index is None or self._index.is_stale():
                fresh = IndexReader.open(self.index_dir, self.encoder.name, self.encoder.dim)
                if self._index is not None:
                    self._index.close()
                self._index = fresh
            return self._index

    def ask(self, question: str, conversation: Conversation | None = None, top: int = 3,
            abstain: bool = True) -> Answer:
        """Answer with up to `top` quoted sentences, or say the articles do not cover the question."""
        question = " ".join(question.split())
        index = self.index
        if not question:
            answer = Answer(question=question, answered=False)
        else:
            vector = self.encoder.encode([question[:MAX_QUESTION_CHARS]])[0]
            candidates = self.retriever.run(index, question, vector)
            answer = self.answerer.run(index, question, vector, candidates, top=top, abstain=abstain)
        if conversation is not None:
            conversation.add(answer)
        return answer

    def article(self, article_id: str) -> Article | None:
        """The stored article, as quoted from."""
        return database.get_article(self.index.db, article_id)

    def stats(self) -> dict:
        """Counts, model and size of the index, for `newsdesk stats` and the bot's /start."""
        return self.index.stats()
