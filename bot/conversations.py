"""Server-side chats for the HTTP API: an id per conversation, forgotten after a time-to-live or past a cap."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from retrieval.conversation import Conversation


@dataclass
class Chat:
    """One API conversation; `lock` keeps its turns in order when a client sends two questions at once."""

    id: str
    conversation: Conversation = field(default_factory=Conversation)
    lock: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=time.monotonic)


class ConversationStore:
    """At most `cap` chats, least recently used first out; a chat idle for `ttl` seconds is gone."""

    def __init__(self, ttl: float = 1800, cap: int = 10_000, clock=time.monotonic):
        self.ttl, self.cap, self._clock = ttl, cap, clock
        self._chats: OrderedDict[str, Chat] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, chat_id: str | None) -> Chat:
        """The live chat with this id, or a new one (no id, an unknown one, or one that expired)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            chat = self._chats.get(chat_id) if chat_id else None
            if chat is None:
                chat = Chat(secrets.token_urlsafe(16))
                self._chats[chat.id] = chat
                while len(self._chats) > self.cap:
                    self._chats.popitem(last=False)
            self._chats.move_to_end(chat.id)
            chat.used = now
            return chat

    def _expire(self, now: float) -> None:
        """Drop chats idle past the time-to-live (the oldest are at the front)."""
        while self._chats:
            oldest = next(iter(self._chats.values()))
            if now - oldest.used < self.ttl:
                return
            self._chats.popitem(last=False)

    def __len__(self) -> int:
        return len(self._chats)
