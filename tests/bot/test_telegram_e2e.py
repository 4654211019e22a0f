"""`newsdesk telegram` end to end: the real entry point as a subprocess, talking to the strict emulator.

One bot process serves the whole module (loading the model costs seconds): the tests play the users
through the emulator, which rejects anything Telegram would; the last test stops the bot with SIGTERM
and checks that every reply was accepted and the token never reached the bot's output.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot import render, telegram_handlers as handlers
from tests.conftest import NEWSDESK, REPO, SEEDS
from tests.telegram_emulator import Emulator
from tests.telegram_html import parse_html, utf16_len

ANN = {"id": 5001, "is_bot": False, "first_name": "Ann", "username": "ann"}      # allowed by id
BOB = {"id": 5002, "is_bot": False, "first_name": "Bob", "username": "bob"}      # allowed by @username
EVE = {"id": 6666, "is_bot": False, "first_name": "Eve", "username": "eve"}      # not allowed
CAROL = {"id": 5003, "is_bot": False, "first_name": "Carol", "username": "carol"}  # allowed, for /add
GROUP = -100777
QUESTION = "Who founded Kestrel Robotics?"
FOLLOW_UP = "When does the Kestrel drone trial start?"
LONG_QUESTION = "What did the Zephyr Canal restoration crews rebuild?"
STARTUP_SECONDS = 120  # imports and the model on a busy 2-core CI machine
REPLY_SECONDS = 30

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Kittiwake ferry returns to Lowmere after twenty years | Estuary Times</title>
<meta property="og:title" content="Kittiwake ferry returns to Lowmere after twenty years">
<meta property="og:site_name" content="Estuary Times">
<meta property="article:published_time" content="2026-06-03T09:00:00+00:00"></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a></nav><article>
<h1>Kittiwake ferry returns to Lowmere after twenty years</h1>
<p>A passenger ferry will cross the Lowmere estuary again from July, twenty years after the last
crossing was cancelled, the estuary council announced on Tuesday.</p>
<p>The restored ferry, named Kittiwake, will carry up to 120 passengers and 30 bicycles on each
crossing, and the trip from Lowmere quay to Saltby will take eleven minutes.</p>
<p>Councillor Maren Otley said the service would run every half hour from 7am to 8pm and that a
single adult ticket would cost £2.50, with children travelling free.</p>
<p>The council paid £1.4 million to refit the vessel at the Saltby boatyard, where twelve workers
replaced its engines and widened its deck over the winter.</p>
</article><footer>© Estuary Times</footer></body></html>"""


def long_article() -> dict:
    """An article of very long sentences (with & and <), so any answer from it exceeds one message."""
    places = ["Ashby", "Brindle", "Corran", "Dunmore", "Elsworth", "Farley", "Glaston", "Hexley", "Ivers", "Jarrow"]
    stones = ["granite", "sandstone", "limestone", "slate", "basalt"]

    def sentence(k: int) -> str:
        clauses = [f"rebuilt lock {k * 30 + n} near the {places[n % 10]} towpath with {stones[n % 5]} from "
                   "Smith & Sons, lowering its sill to <1 m above the bed" for n in range(30)]
        return "The Zephyr Canal restoration crews " + ", then ".join(clauses) + "."
    return {"id": "zephyr-canal", "title": "Zephyr Canal restoration: every lock rebuilt", "source": "Canal Gazette",
            "date": "2026-05-02", "url": "https://canal.example/zephyr?lock=all&year=2026",
            "text": "\n\n".join(sentence(k) for k in range(4))}


@dataclass
class Session:
    """The running bot, the emulator it talks to, and where its output goes."""

    emu: Emulator
    process: subprocess.Popen
    output: Path
    index: Path
    articles: int
    page_url: str

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_until(self, predicate, what: str, timeout: float = REPLY_SECONDS) -> None:
        """Poll until predicate() holds; fail early, with the bot's output, if the bot died."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.process.poll() is not None:
                pytest.fail(f"the bot exited ({self.process.returncode}) waiting for {what}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout}s; rejections {self.emu.rejections[-3:]}\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def say(self, chat: int, text: str, user: dict, done=bool, **kwargs) -> list[dict]:
        """A user writes; return the bot's new messages in that chat once `done(new)` (default: any arrived)."""
        before = len(self.emu.bot_messages(chat))
        self.emu.send_message(chat, text, user=user, **kwargs)
        self.wait_until(lambda: done(self.emu.bot_messages(chat)[before:]), f"a reply to {text!r}")
        return self.emu.bot_messages(chat)[before:]


def _build_index(root: Path, sample_index: Path, encoder, tmp: Path) -> int:
    """The sample index plus the long-sentence article and, when present, the seed page; its article count."""
    from embeddings.storage.reader import IndexReader
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths

    shutil.copytree(sample_index, root)
    extra = tmp / "extra"
    extra.mkdir()
    (extra / "zephyr.jsonl").write_text(json.dumps(long_article()) + "\n")
    paths = [extra, SEEDS] if SEEDS.exists() else [extra]
    report = Indexer(root, encoder, show_progress=False).run(load_paths(paths))
    assert not report.problems, report.problems
    reader = IndexReader.open(root)
    try:
        return reader.stats()["articles"]
    finally:
        reader.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        """Stay quiet."""


@pytest.fixture(scope="module")
def web_page(tmp_path_factory):
    """A news page served on 127.0.0.1, for /add."""
    site = tmp_path_factory.mktemp("site")
    (site / "kittiwake.html").write_text(PAGE, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/kittiwake.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, sample_index, encoder, web_page):
    """`newsdesk telegram` running against a strict emulator (privacy mode off: it sees every group message)."""
    tmp = tmp_path_factory.mktemp("telegram")
    articles = _build_index(tmp / "index", sample_index, encoder, tmp)
    emu = Emulator(privacy_mode=False)
    emu.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TELEGRAM_BOT_TOKEN=emu.token,
               NEWSDESK_BACKEND=encoder.backend,  # the backend that built the index
               NEWSDESK_ALLOWED_USERS=f"{ANN['id']}, @bob, carol", NEWSDESK_ALLOW_PRIVATE_URLS="1")
    with running_bot(emu, tmp / "index", env, tmp, articles, web_page) as session:
        yield session


@contextlib.contextmanager
def running_bot(emu: Emulator, index: Path, env: dict, cwd: Path, articles: int, page_url: str, *args: str):
    """The real `newsdesk telegram` (with `args`) polling `emu` for the length of the block; its output in cwd."""
    output = cwd / "bot-output.txt"
    with output.open("w") as sink:  # cwd: a folder without a .env
        process = subprocess.Popen([*NEWSDESK, "telegram", "--index", str(index), "--base-url", emu.base_url, *args],
                                   cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    session = Session(emu, process, output, index, articles, page_url)
    try:
        session.wait_until(lambda: any(m == "getUpdates" for m, _ in emu.requests), "polling", STARTUP_SECONDS)
        yield session
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        emu.stop()


def local_answer(session: Session, encoder, *questions: str):
    """The answer to the last question, after the others in one conversation, from a pipeline built as
    the bot builds its own (bot.wiring.open_pipeline, default settings): what the bot should have sent."""
    from bot.wiring import open_pipeline
    from bot.settings import Settings
    from retrieval.conversation import Conversation

    settings = Settings(_env_file=None, index=session.index, backend=encoder.backend)
    pipeline, conversation = open_pipeline(settings), Conversation()
    pipeline.encoder = encoder  # the same model, already loaded
    return [pipeline.ask(q, conversation=conversation, top=settings.top) for q in questions][-1]


def test_start_registers_the_commands_and_introduces_the_bot(bot):
    bot.wait_until(lambda: bot.emu.commands, "setMyCommands")
    [menu] = bot.emu.commands.values()
    assert {c["command"] for c in menu} == {"start", "help", "ask", "sources", "reset", "add", "follow",
                                            "following", "unfollow"}
    [reply] = bot.say(ANN["id"], "/start", ANN)
    assert f"from the {bot.articles} articles" in reply["text"] and "for example" in reply["text"]


def test_a_question_gets_citations_and_buttons_and_a_press_shows_the_context(bot, encoder):
    [reply] = bot.say(ANN["id"], QUESTION, ANN)
    assert ("sendChatAction", {"chat_id": ANN["id"], "action": "typing"}) in bot.emu.requests
    answer = local_answer(bot, encoder, QUESTION)
    for sentence in answer.sentences:
        assert f"“{sentence.text}” [1]" in reply["text"]
    source = answer.sentences[0].citation
    assert f"[1] {source.title} · {source.source}" in reply["text"]
    assert any(e["type"] == "text_link" and e["url"] == source.url for e in reply["entities"])
    [[button]] = reply["reply_markup"]["inline_keyboard"]
    before = len(bot.emu.bot_messages(ANN["id"]))
    bot.emu.press_button(ANN["id"], reply["message_id"], button["callback_data"], user=ANN)
    bot.wait_until(lambda: len(bot.emu.bot_messages(ANN["id"])) > before, "the context message")
    shown = bot.emu.bot_messages(ANN["id"])[-1]
    assert shown["text"].startswith(source.title) and answer.sentences[0].text in shown["text"]
    assert any(e["type"] == "bold" and shown["text"][e["offset"]:e["offset"] + e["length"]] == answer.sentences[0].text
               for e in shown["entities"])
    assert len(bot.emu.callback_answers) == 1


def test_a_follow_up_in_the_same_chat_then_sources_and_reset(bot, encoder):
    chat = BOB["id"]
    bot.say(chat, QUESTION, BOB)
    [follow_up] = bot.say(chat, FOLLOW_UP, BOB)
    assert follow_up["reply_markup"]
    [sources] = bot.say(chat, "/sources", BOB)
    expected = render.sources_html(local_answer(bot, encoder, QUESTION, FOLLOW_UP))[0]
    assert sources["text"] == parse_html(expected)[0]
    assert bot.say(chat, "/reset", BOB)[0]["text"] == handlers.RESET
    assert bot.say(chat, "/sources", BOB)[0]["text"] == handlers.NO_SOURCES


def test_questions_typed_in_lower_case_switch_story_in_one_chat(bot):
    """As people type them, one after another in one chat: each finds its own story."""
    chat = BOB["id"]
    bot.say(chat, "/reset", BOB)
    for question, quote in [("who started kestrel robotics?", "Aisha Montrose and Felix Harland"),
                            ("how much did the tram cost", "The line cost $310 million to build."),
                            ("was there a storm?", "Storm Orla brought record rainfall")]:  # a whole story: its lead
        [reply] = bot.say(chat, question, BOB)
        assert quote in reply["text"].split("”")[0], (question, reply["text"])  # the first quoted sentence


def test_a_long_answer_is_split_into_accepted_pieces(bot, encoder):
    pieces = bot.say(ANN["id"], f"/ask {LONG_QUESTION}", ANN, done=lambda new: new and new[-1]["reply_markup"])
    assert len(pieces) >= 3 and all(utf16_len(p["text"]) <= 4096 for p in pieces)
    assert [bool(p["reply_markup"]) for p in pieces] == [False] * (len(pieces) - 1) + [True]
    joined = "".join("".join(p["text"].split()) for p in pieces)
    for sentence in local_answer(bot, encoder, LONG_QUESTION).sentences:
        assert "".join(sentence.text.split()) in joined.replace("”[1]“", "")


def test_add_a_local_page_then_ask_about_it(bot):
    chat = CAROL["id"]
    [added] = bot.say(chat, f"/add {bot.page_url}", CAROL)
    assert added["text"].startswith("Added “Kittiwake ferry returns to Lowmere after twenty years”: ")
    [reply] = bot.say(chat, "How many passengers will the Kittiwake ferry carry?", CAROL)
    assert "up to 120 passengers" in reply["text"] and "Kittiwake ferry returns to Lowmere" in reply["text"]
    assert any(e.get("url") == bot.page_url for e in reply["entities"])


def test_a_user_outside_the_allow_list_is_refused_once(bot):
    assert bot.say(EVE["id"], QUESTION, EVE)[0]["text"] == handlers.REFUSAL
    bot.emu.send_message(EVE["id"], "/start", user=EVE)
    bot.wait_until(lambda: not bot.emu.pending_updates(), "the bot to read the update")
    time.sleep(1)
    assert len(bot.emu.bot_messages(EVE["id"])) == 1


def test_in_a_group_only_messages_for_the_bot_are_answered(bot):
    ignored = bot.emu.send_message(GROUP, f"just chatting: {QUESTION}", user=ANN, chat_type="group")
    asked = bot.say(GROUP, f"/ask {QUESTION}", ANN, chat_type="group")
    mentioned = bot.say(GROUP, f"@newsdesk_test_bot {QUESTION}", BOB, chat_type="group")
    replied = bot.say(GROUP, QUESTION, ANN, chat_type="group", reply_to_message_id=asked[0]["message_id"])
    time.sleep(1)
    replies = bot.emu.bot_messages(GROUP)
    assert len(replies) == 3 and all("Kestrel" in m["text"] for m in asked + mentioned + replied)
    assert ignored["message"]["message_id"] not in {m["reply_to_message_id"] for m in replies}


def test_a_429_is_retried_after_retry_after(bot):
    bot.emu.inject_429(1, retry_after=1)
    started = time.monotonic()
    [reply] = bot.say(ANN["id"], QUESTION, ANN)
    assert "Kestrel" in reply["text"] and time.monotonic() - started >= 1
    throttled = [r for r in bot.emu.rejections if r["error_code"] == 429]
    assert len(throttled) == 1 and throttled[0]["method"] == "sendMessage"
    bot.emu.rejections.remove(throttled[0])  # injected on purpose; the final check wants no others


@pytest.mark.parametrize("question, quote", [
    ("What did Tillerson urge China to do?", "has urged China to help pressure North Korea"),
    ("What did Defense Secretary Jim Mattis vow?", "continue to take necessary measures to defend ourselves"),
    ("What did spy satellites detect at North Korea's nuclear test site?", "spy satellites had detected new"),
    ("What did North Korea call Trump?", 'by calling Trump a "psychopath"'),
])
def test_the_seed_page_is_answered_through_the_emulator(bot, question, quote):
    if not SEEDS.exists():
        pytest.skip(f"{SEEDS} is absent (evaluation data lives beside the repository)")
    [reply] = bot.say(ANN["id"], question, ANN)
    assert quote in reply["text"]
    assert "[1] US urges China to pressure North Korea · " in reply["text"] and "2017-06-22" in reply["text"]


def test_sigterm_stops_cleanly_every_reply_was_accepted_and_the_token_never_leaked(bot):
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(timeout=30) == 0
    assert bot.emu.rejections == []
    output = bot.log()
    assert bot.emu.token not in output and bot.emu.token.split(":")[1] not in output
    assert "Traceback" not in output
