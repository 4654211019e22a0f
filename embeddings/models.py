"""The data that flows from files to the index: articles, their sentences and passages."""

from __future__ import annotations

import hashlib
import datetime as dt

from pydantic import BaseModel, Field, computed_field


class Article(BaseModel):
    """One cleaned article; `text` is what every sentence offset points into."""

    id: str
    title: str = ""
    text: str
    date: dt.date | None = None
    url: str | None = None
    source: str | None = None
    author: str | None = None
    origin: str = Field(default="", description="the path or URL the article was indexed from")

    @computed_field
    @property
    def content_hash(self) -> str:
        """Hash of everything stored about the article, so a change to any field re-indexes it."""
        payload = "\x1f".join(
            [self.title, self.text, str(self.date or ""), self.url or "", self.source or "", self.author or ""]
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Sentence(BaseModel):
    """A sentence of an article: `article.text[start:end] == text`, always."""

    article_id: str
    index: int = Field(description="position of the sentence in its article, from 0")
    paragraph: int = Field(default=0, description="which paragraph of the article it is in, from 0")
    start: int
    end: int
    text: str


class Passage(BaseModel):
    """A run of consecutive sentences of one article; passages overlap and never cross articles."""

    article_id: str
    index: int
    first_sentence: int
    last_sentence: int = Field(description="inclusive")
    start: int
    end: int
    text: str
