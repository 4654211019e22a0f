"""The data that flows out of the pipeline: answers made of quoted, cited sentences."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from embeddings.models import Article


class Citation(BaseModel):
    """Where a quoted sentence comes from: `show(article_id).text[start:end]` is the quote."""

    article_id: str
    title: str
    date: dt.date | None = None
    url: str | None = None
    source: str | None = None
    start: int
    end: int


class Context(BaseModel):
    """What a reader sees around a quote: the article's title and the sentence before it, verbatim."""

    title: str
    previous: str | None = None


class AnswerSentence(BaseModel):
    """One sentence of an answer, quoted verbatim from an article; the same sentence in duplicate stories
    is quoted once, from the earliest complete version, the others listed in `also_reported_by`."""

    text: str
    score: float
    citation: Citation
    context: Context | None = None
    also_reported_by: list[Citation] = Field(default_factory=list)
    sentence_id: int | None = Field(default=None, exclude=True)


class Answer(BaseModel):
    """The reply to a question; `answered` is false when the articles do not hold the answer."""

    question: str
    answered: bool
    sentences: list[AnswerSentence] = Field(default_factory=list)
    undated_left_out: int = Field(default=0, description="articles a date filter left out for having no date")
    searched: str | None = Field(default=None, exclude=True,
                                 description="what was searched for: the question, widened if it was a follow-up")
    confidence: float | None = Field(default=None, exclude=True,
                                     description="P(answerable) from the abstention model, abstaining or not")

    def sources(self) -> list[Citation]:
        """The distinct cited articles in order of first appearance, for numbered source lists."""
        seen: dict[str, Citation] = {}
        for sentence in self.sentences:
            seen.setdefault(sentence.citation.article_id, sentence.citation)
        return list(seen.values())


class StoredArticle(BaseModel):
    """A stored article as `newsdesk show --json` and `GET /api/articles/{id}` give it: quotes are `text[start:end]`."""

    id: str
    title: str
    text: str
    date: dt.date | None = None
    url: str | None = None
    source: str | None = None

    @classmethod
    def of(cls, article: Article) -> "StoredArticle":
        return cls(**article.model_dump(include=set(cls.model_fields)))
