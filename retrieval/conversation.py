"""The turns of one chat, so the pipeline can read a follow-up question in the light of earlier ones."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from retrieval.models import Answer


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

    def clear(self) -> None:
        self.turns.clear()
