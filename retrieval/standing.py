"""Standing questions: a chat's `/follow QUESTION`, asked again of each batch of articles the index gains,
and answered to that chat only when the new articles hold the answer. Kept in a JSON file beside the index."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from embeddings.storage import database, store
from retrieval.filters import Filters
from retrieval.models import Answer

MAX_FOLLOWS_PER_CHAT = 20
MAX_ALERTED = 2000  # article ids remembered per follow, so an article is announced once


class Follow(BaseModel):
    chat_id: int
    question: str
    created: dt.datetime
    alerted: list[str] = Field(default_factory=list, description="articles already announced for it")


class Alert(BaseModel):
    """An answer from new articles to a chat's standing question."""

    follow: Follow
    answer: Answer


class _Stored(BaseModel):
    mark: int | None = Field(None, description="the highest article rowid already looked at")
    follows: list[Follow] = Field(default_factory=list)


class StandingQuestions:
    """The follows of every chat, in `path` (written whole to a temporary file, then renamed over it)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data = _Stored.model_validate_json(self.path.read_text()) if self.path.exists() else _Stored()

    def of(self, chat_id: int) -> list[Follow]:
        return [f for f in self._data.follows if f.chat_id == chat_id]

    def add(self, chat_id: int, question: str) -> Follow | None:
        """Follow a question; None when the chat already follows the maximum number."""
        with self._lock:
            if len(self.of(chat_id)) >= MAX_FOLLOWS_PER_CHAT:
                return None
            follow = Follow(chat_id=chat_id, question=question, created=dt.datetime.now(dt.timezone.utc))
            self._data.follows.append(follow)
            self._save()
            return follow

    def remove(self, chat_id: int, number: int) -> Follow | None:
        """Stop following the chat's `number`-th question (1-based, as /following lists them)."""
        with self._lock:
            mine = self.of(chat_id)
            if not 1 <= number <= len(mine):
                return None
            self._data.follows.remove(mine[number - 1])
            self._save()
            return mine[number - 1]

    def check(self, pipeline, top: int = 3) -> list[Alert]:
        """Ask every standing question of the articles stored since the last check (the first check only
        sets the mark: what the index held before is not news); each article is announced once per follow."""
        with self._lock:
            fresh, mark = database.articles_after(pipeline.index.db, self._data.mark or 0)
            if self._data.mark is None or not fresh or not self._data.follows:
                changed, self._data.mark = self._data.mark != mark, mark
                if changed and self._data.follows:  # nothing to keep on disk until someone follows
                    self._save()
                return []
            alerts = [a for a in (self._ask(pipeline, f, fresh, top) for f in self._data.follows) if a]
            self._data.mark = mark
            self._save()
            return alerts

    def _ask(self, pipeline, follow: Follow, fresh: list[str], top: int) -> Alert | None:
        unseen = [article_id for article_id in fresh if article_id not in follow.alerted]
        if not unseen:
            return None
        answer = pipeline.ask(follow.question, top=top, filters=Filters(articles=unseen))
        if not answer.answered:
            return None
        follow.alerted = (follow.alerted + [c.article_id for c in answer.sources()])[-MAX_ALERTED:]
        return Alert(follow=follow, answer=answer)

    def _save(self) -> None:
        store.write_atomically(self.path, self._data.model_dump_json(indent=1))
