"""The plain dense baseline of `newsdesk eval --baseline dense`: every sentence ranked by cosine with the question.

No BM25 candidates, no passages, no learned ranker, no abstention: the exact FAISS search over the
index's sentence vectors that newsdesk's answers are measured against. Evaluation only; the product
answers through Pipeline.
"""

from __future__ import annotations

from pathlib import Path

from embeddings.storage import database
from embeddings.encoder import Encoder
from embeddings.storage.reader import IndexReader
from retrieval.models import Answer, AnswerSentence, Citation


class DenseBaseline:
    """Cosine(question, sentence) over all sentences of the index at `index_dir`, exactly."""

    def __init__(self, index_dir: Path, encoder: Encoder):
        self.encoder = encoder
        self.reader = IndexReader.open(index_dir, encoder.name, encoder.dim, backend=encoder.backend)

    def ask(self, question: str, top: int = 3, abstain: bool = False, filters=None, as_of=None) -> Answer:
        """The `top` sentences nearest the question, cited, best first: the same call as Pipeline.ask, so
        `evaluate` scores both. It never abstains (the answer carries no confidence), and it applies no
        filters or time words (`abstain`, `filters` and `as_of` are taken and ignored)."""
        vector = self.encoder.encode([question])[0]
        # The sentence index is an exact inner-product index whose ids are the sentence ids.
        scores, ids = self.reader.sentence_vectors.search(vector[None, :], top)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        rows = {row[0]: row for row in database.sentences_by_id(self.reader.db, [i for i, _ in found])}
        articles = database.get_articles_by_rowid(self.reader.db, [row[1] for row in rows.values()])
        sentences = [_sentence(rows[i], score, articles[rows[i][1]]) for i, score in found]
        return Answer(question=question, answered=bool(sentences), sentences=sentences)


def _sentence(row: tuple, score: float, article) -> AnswerSentence:
    """A stored sentence row (id, article_rowid, idx, paragraph, start, end, text, kind) as a cited quote."""
    sentence_id, _, _, _, start, end, text, _ = row
    citation = Citation(article_id=article.id, title=article.title, date=article.date, url=article.url,
                        source=article.source, start=start, end=end)
    return AnswerSentence(text=text, score=round(score, 4), citation=citation, sentence_id=sentence_id)
