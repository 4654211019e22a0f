"""The interactive chat in a terminal: history, colour, and a few `:commands`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bot import render
from bot.settings import default_index_dir
from retrieval.conversation import Conversation

HELP = """Type a question and press Enter. Answers quote the articles; [n] points to a source.
  :sources   the articles behind the last answer
  :reset     forget the conversation
  :help      this text
  :quit      leave (or Ctrl-D)
Filters can go inside a question: since:2017-06-01 until:2017-12-31 source:DW
Time words work too: "yesterday", "in March", "since Monday", "latest" (start with --as-of DATE to ask as on DATE)"""


def handle_line(pipeline, conversation: Conversation, line: str, top: int, colour: bool,
                filters=None, as_of=None, width: int | None = None) -> str | None:
    """The reply to one line of input, wrapped to `width` columns; None means the user asked to leave.
    Time words resolve against `as_of`."""
    command = line.strip()
    if command in (":quit", ":q", ":exit"):
        return None
    if command == ":help":
        return HELP
    if command == ":reset":
        conversation.clear()
        return "Conversation cleared."
    if command == ":sources":
        return _sources(conversation)
    if command.startswith(":"):
        return f"Unknown command {command}. {HELP}"
    if not command:
        return ""
    answer = pipeline.ask(command, conversation=conversation, top=top, filters=filters, as_of=as_of)
    return render.to_text(answer, colour=colour, width=width)


def _sources(conversation: Conversation) -> str:
    """The sources of the last answer; after a refused question, says so and shows the last answered one's."""
    last, answered = conversation.last(), conversation.last_answered()
    if last is None:
        return "No sources yet: ask a question first."
    if answered is None:
        return "The last question was not answered, so it has no sources."
    lines = [render.citation_line(n, c) for n, c in enumerate(answered.sources(), start=1)]
    if answered is not last:
        lines.insert(0, f"The last question was not answered. Sources of the last answered one, "
                        f"“{answered.question}”:")
    return "\n".join(lines)


def run_repl(pipeline, top: int = 3, filters=None, as_of=None) -> int:
    """Chat on a terminal; with piped input, answer each line and exit."""
    conversation = Conversation()
    if not sys.stdin.isatty():
        for line in sys.stdin:
            reply = handle_line(pipeline, conversation, line, top, colour=False, filters=filters, as_of=as_of)
            if reply is None:
                break
            if reply:
                print(f"> {line.strip()}\n{reply}\n", flush=True)
        return 0
    return _interactive(pipeline, conversation, top, filters, as_of)


def _interactive(pipeline, conversation: Conversation, top: int, filters, as_of) -> int:
    """prompt_toolkit session with persistent history (arrow keys) and coloured answers."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = Path(default_index_dir()).parent / "repl_history"
    history.parent.mkdir(parents=True, exist_ok=True)
    session = PromptSession(history=FileHistory(str(history)))
    stats = pipeline.stats()
    print(f"newsdesk · {stats['articles']} articles · :help for commands, :quit to leave")
    while True:
        try:
            line = session.prompt("question> ")
        except (EOFError, KeyboardInterrupt):
            return 0
        reply = handle_line(pipeline, conversation, line, top, colour=True, filters=filters, as_of=as_of,
                            width=shutil.get_terminal_size().columns - 1)
        if reply is None:
            return 0
        print(reply + "\n")
