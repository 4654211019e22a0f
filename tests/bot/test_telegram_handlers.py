"""The Telegram handlers offline: updates fed to Application.process_update, Bot API calls recorded.

As in python-telegram-bot's own test suite, the Application gets a BaseRequest subclass instead of
a network; it answers like the Bot API and checks every text and keyboard with the strict emulator's
rules (tests/telegram_html.py), so a reply that Telegram would reject fails here too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time

import pytest
from telegram import Update
from telegram.request import BaseRequest

from retrieval.conversation import Conversation
from bot import render, telegram_handlers as handlers
from bot.settings import Settings
from bot.telegram import RedactToken, bot_config, build_application, run_bot
from retrieval.models import Answer, AnswerSentence, Citation, Context
from tests.telegram_html import ApiError, check_markup, format_text, parse_html, user_entities, utf16_len

TOKEN = "4242:OfflineTestTokenNeverSent"
BOT = {"id": 4242, "is_bot": True, "first_name": "Newsdesk", "username": "newsdesk_test_bot"}
ANN = {"id": 5001, "is_bot": False, "first_name": "Ann", "username": "ann"}
BOB = {"id": 5002, "is_bot": False, "first_name": "Bob", "username": "Bob"}
EVE = {"id": 6666, "is_bot": False, "first_name": "Eve", "username": "eve"}
GROUP = -100500
QUESTION = "Who founded Kestrel Robotics?"


class RecordingRequest(BaseRequest):
    """Plays the Bot API offline: records calls, validates texts like Telegram, can fail calls on demand."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.failures: dict[str, list[str]] = {}
        self.message_ids = itertools.count(1000)

    @property
    def read_timeout(self):
        return 1.0

    async def initialize(self):
        pass

    async def shutdown(self):
        pass

    async def do_request(self, url, method, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None):
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        self.calls.append((name, params))
        try:
            if self.failures.get(name):
                raise ApiError(400, self.failures[name].pop(0))
            result = self.answer(name, params)
        except ApiError as err:
            return err.code, json.dumps({"ok": False, "error_code": err.code, "description": err.description}).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def answer(self, name: str, params: dict):
        """The result Telegram would return, or ApiError for what it would reject."""
        if name == "getMe":
            return BOT
        if name != "sendMessage":
            return True
        text, _ = format_text(params)
        check_markup(params.get("reply_markup"))
        chat = {"id": params["chat_id"], "type": "private" if params["chat_id"] > 0 else "group"}
        return {"message_id": next(self.message_ids), "from": BOT, "chat": chat, "date": int(time.time()),
                "text": text}

    def sent(self, method: str = "sendMessage") -> list[dict]:
        return [params for name, params in self.calls if name == method]


def message_update(text: str, user: dict = ANN, chat_id: int | None = None, reply_to: dict | None = None) -> dict:
    """A user's text message as Telegram delivers it, with command and mention entities."""
    chat_id = chat_id or user["id"]
    chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]} if chat_id > 0 else \
        {"id": chat_id, "type": "group", "title": "Test group"}
    message = {"message_id": 7, "from": user, "chat": chat, "date": int(time.time()), "text": text,
               "entities": user_entities(text)}
    if reply_to:
        message["reply_to_message"] = reply_to
    return {"update_id": 1, "message": message}


def button_update(data: str, user: dict = ANN, chat_id: int | None = None) -> dict:
    """A press on an inline button of a bot message."""
    chat_id = chat_id or user["id"]
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
    message = {"message_id": 1000, "from": BOT, "chat": chat, "date": int(time.time()), "text": "answer"}
    return {"update_id": 2, "callback_query": {"id": "77", "from": user, "chat_instance": "1", "message": message,
                                               "data": data}}


def make_settings(**values) -> Settings:
    return Settings(_env_file=None, **{"allowed_users": ["5001", "@bob"], **values})


def run(pipeline, *updates: dict, public: bool = False, settings: Settings | None = None,
        failures: dict | None = None) -> RecordingRequest:
    """Feed updates (concurrently) to a fresh Application over `pipeline`; return the recorded calls."""
    request = RecordingRequest()
    request.failures = failures or {}
    app = build_application(bot_config(settings or make_settings(), pipeline, public), TOKEN, request=request)

    async def main():
        async with app:
            await asyncio.gather(*(app.process_update(Update.de_json(u, app.bot)) for u in updates))
    asyncio.run(main())
    return request


def texts(request: RecordingRequest) -> list[str]:
    return [params["text"] for params in request.sent()]


# ---- questions, buttons and commands over the real sample index ----------------------------------

def test_a_question_gets_quotes_citations_and_a_button_per_article(sample_pipeline):
    request = run(sample_pipeline, message_update(QUESTION))
    assert request.sent("sendChatAction")[0]["action"] == "typing"
    [reply] = request.sent()
    assert reply["parse_mode"] == "HTML" and "reply_parameters" not in reply  # no quoting in private chats
    answer = sample_pipeline.ask(QUESTION)
    plain, _ = parse_html(reply["text"])
    for sentence in answer.sentences:
        assert f"“{sentence.text}”" in plain
    assert "[1] Kestrel Robotics" in plain
    buttons = [row[0] for row in reply["reply_markup"]["inline_keyboard"]]
    assert len(buttons) == len(answer.sources())
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)


def test_a_button_shows_the_paragraph_with_title_and_link(sample_pipeline):
    data = run(sample_pipeline, message_update(QUESTION)).sent()[0]["reply_markup"]["inline_keyboard"][0][0]
    request = run(sample_pipeline, button_update(data["callback_data"]))
    assert request.sent("answerCallbackQuery") == [{"callback_query_id": "77"}]
    plain, entities = parse_html(request.sent()[0]["text"])
    first = sample_pipeline.ask(QUESTION).sentences[0]
    assert plain.startswith(first.citation.title) and first.text in plain
    assert any(e["type"] == "text_link" and e["url"] == first.citation.url for e in entities)


def test_a_button_fails_politely_after_the_index_changed(index_copy, encoder):
    from embeddings.indexer import Indexer
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline(index_copy, encoder)
    reply = run(pipeline, message_update(QUESTION)).sent()[0]
    data = reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    article = pipeline.article(pipeline.ask(QUESTION).sentences[0].citation.article_id)
    changed = article.model_copy(update={"text": article.text + "\n\nA correction was added later."})
    Indexer(index_copy, encoder, show_progress=False).run([changed])
    for stale in (data, "ctx:99999999:0123456789", "something-else"):
        request = run(pipeline, button_update(stale))
        assert request.sent("answerCallbackQuery")[0]["text"] == handlers.STALE
        assert request.sent() == []


def test_commands(sample_pipeline):
    request = run(sample_pipeline, message_update("/start"))
    count = sample_pipeline.stats()["articles"]
    assert f"from the {count} articles" in texts(request)[0] and "for example" in texts(request)[0]
    assert "/reset" in texts(run(sample_pipeline, message_update("/help")))[0]
    assert texts(run(sample_pipeline, message_update("/ask")))[0] == handlers.USAGE_ASK
    assert texts(run(sample_pipeline, message_update("/nonsense")))[0] == handlers.UNKNOWN
    assert texts(run(sample_pipeline, message_update("/sources")))[0] == handlers.NO_SOURCES


def test_conversation_sources_and_reset_share_the_chat(sample_pipeline):
    request = RecordingRequest()
    app = build_application(bot_config(make_settings(), sample_pipeline, False), TOKEN, request=request)

    async def main():
        async with app:
            for text in (QUESTION, "When does the trial start?", "/sources", "/reset", "/sources"):
                await app.process_update(Update.de_json(message_update(text), app.bot))
            return app.chat_data[ANN["id"]]["conversation"]
    conversation = asyncio.run(main())
    assert conversation.turns == type(conversation.turns)()  # cleared by /reset
    sources, reset, none = texts(request)[2:]
    replay = Conversation()
    sample_pipeline.ask(QUESTION, conversation=replay)
    last = sample_pipeline.ask("When does the trial start?", conversation=replay)  # a follow-up of QUESTION
    assert sources == render.sources_html(last)[0]  # the last answer's
    assert (reset, none) == (handlers.RESET, handlers.NO_SOURCES)


def test_one_question_in_flight_per_user(sample_pipeline):
    class Slow:
        """The pipeline, but a question takes until released."""

        def __init__(self):
            self.release = threading.Event()

        def ask(self, *args, **kwargs):
            self.release.wait(10)
            return sample_pipeline.ask(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(sample_pipeline, name)

    slow = Slow()
    threading.Timer(1.0, slow.release.set).start()
    request = run(slow, message_update(QUESTION), message_update("And when?"))
    assert texts(request)[0] == handlers.BUSY
    assert "Kestrel" in texts(request)[1]


def test_groups_answer_only_what_is_addressed_to_the_bot(sample_pipeline):
    bot_message = {"message_id": 3, "from": BOT, "chat": {"id": GROUP, "type": "group"}, "date": 1, "text": "hi"}
    ignored = [message_update(QUESTION, chat_id=GROUP), message_update("/ask@other_bot " + QUESTION, chat_id=GROUP)]
    assert run(sample_pipeline, *ignored).calls == [("getMe", {})]
    addressed = [message_update("/ask " + QUESTION, chat_id=GROUP),
                 message_update(f"@newsdesk_test_bot {QUESTION}", chat_id=GROUP),
                 message_update(QUESTION, chat_id=GROUP, reply_to=bot_message)]
    for update in addressed:
        [reply] = run(sample_pipeline, update).sent()
        assert "Kestrel" in reply["text"] and reply["reply_parameters"]["message_id"] == 7


def test_strangers_get_one_refusal_and_nothing_else(sample_pipeline):
    request = run(sample_pipeline, message_update(QUESTION, user=EVE))
    assert texts(request) == [handlers.REFUSAL]
    button = run(sample_pipeline, button_update("ctx:1:0123456789", user=EVE))
    assert button.sent("answerCallbackQuery")[0]["text"] == handlers.REFUSAL and button.sent() == []
    request = RecordingRequest()
    app = build_application(bot_config(make_settings(), sample_pipeline, False), TOKEN, request=request)

    async def main():
        async with app:
            for _ in range(3):
                await app.process_update(Update.de_json(message_update("/start", user=EVE), app.bot))
    asyncio.run(main())
    assert texts(request) == [handlers.REFUSAL]
    assert "Kestrel" in texts(run(sample_pipeline, message_update(QUESTION, user=BOB)))[0]  # by username


def test_public_bots_answer_anyone_but_add_only_for_the_allow_list(sample_pipeline):
    assert "Kestrel" in texts(run(sample_pipeline, message_update(QUESTION, user=EVE), public=True))[0]
    request = run(sample_pipeline, message_update("/add https://example.com/a", user=EVE), public=True)
    assert texts(request) == [handlers.NO_ADD]


def test_add_refuses_bad_urls_with_the_fetch_message(sample_pipeline):
    assert texts(run(sample_pipeline, message_update("/add")))[0] == handlers.USAGE_ADD
    [reply] = texts(run(sample_pipeline, message_update("/add ftp://example.com/<story>")))
    assert reply.startswith("Could not add that page: only http") and "&lt;story&gt;" in reply
    [reply] = texts(run(sample_pipeline, message_update("/add http://127.0.0.1:9/story")))
    assert "non-public address" in reply  # NEWSDESK_ALLOW_PRIVATE_URLS is off by default


def test_html_rejected_by_telegram_is_resent_as_plain_text(sample_pipeline):
    failures = {"sendMessage": ["Bad Request: can't parse entities: Unsupported start tag"]}
    request = run(sample_pipeline, message_update(QUESTION), failures=failures)
    html_try, plain = request.sent()
    assert html_try["parse_mode"] == "HTML" and "parse_mode" not in plain
    assert plain["text"] == render.html_to_plain(html_try["text"]) and "<b>" not in plain["text"]
    assert "Kestrel Robotics to test delivery drones over Harrowgate Bay (https://" in plain["text"]
    assert plain["reply_markup"] == html_try["reply_markup"]


def test_errors_are_logged_and_the_user_told_without_details(sample_pipeline, caplog):
    class Broken:
        def ask(self, *args, **kwargs):
            raise RuntimeError("boom in /secret/path")

    with caplog.at_level(logging.ERROR):
        request = run(Broken(), message_update(QUESTION))
    assert texts(request) == [handlers.SORRY]
    assert "boom in /secret/path" in caplog.text


# ---- rendering for Telegram, startup checks, token redaction -------------------------------------

def answer_of(*texts_: str, url: str | None = "https://example.com/a?x=1&y=<2>") -> Answer:
    citation = Citation(article_id="a&b", title="Tom & <Jerry>", source="Wire", url=url, start=0, end=1)
    return Answer(question="q", answered=True, sentences=[
        AnswerSentence(text=t, score=0.9, citation=citation, sentence_id=i) for i, t in enumerate(texts_)])


@pytest.mark.parametrize("sentences", [
    ["A <b> & c. " * 200] * 4,   # escaping more than doubles their length
    ["word " * 3000],             # one sentence longer than a message
    ["x" * 9000, "😀" * 3000],    # no spaces at all; astral characters count twice
])
def test_long_answers_split_into_accepted_messages(sentences):
    pieces = render.answer_html(answer_of(*sentences))
    assert len(pieces) > 1
    plain = ""
    for piece in pieces:
        text, _ = format_text({"text": piece, "parse_mode": "HTML"})  # raises as Telegram would
        assert utf16_len(text) <= 4096
        plain += text
    assert "".join(plain.split()).count("".join(sentences[0].split())[:500]) >= 1
    assert plain.endswith("[1] Tom & <Jerry> · Wire")


def test_each_quote_carries_its_lead_in_and_duplicate_sources():
    answer = answer_of("The <vote> passed.")
    sentence = answer.sentences[0]
    sentence.context = Context(title="Council & <harbour>", previous="Members met on Tuesday.")
    sentence.also_reported_by = [Citation(article_id="b", title="Copy", source="Paper", start=0, end=1)]
    [message] = render.answer_html(answer)
    text, _ = format_text({"text": message, "parse_mode": "HTML"})  # raises as Telegram would
    lines = [line for line in text.splitlines() if line]
    assert lines[:3] == ["Council & <harbour>: Members met on Tuesday.", "“The <vote> passed.” [1]",
                         "also reported by: Copy (Paper)"]
    assert "<i>Council &amp; &lt;harbour&gt;: Members met on Tuesday.</i>" in message


def test_context_is_clipped_around_the_quote():
    from embeddings.models import Article

    text = "Before & after. " * 500 + "The <quoted> sentence." + " More text." * 500
    article = Article(id="x", title="T", text=text, url="https://example.com/x")
    start = text.index("The <quoted>")
    shown = render.context_html(article, start, start + 22, (0, len(text)))
    plain, entities = format_text({"text": shown, "parse_mode": "HTML"})
    assert utf16_len(plain) <= 4096 and "\n\n…Before & after." in plain and plain.endswith(("More…", "text.…"))
    assert {"type": "bold", "offset": plain.index("The <quoted>"), "length": 22} in entities


def test_button_labels_fit():
    citation = Citation(article_id="a", title="A very long headline " * 5, start=0, end=1)
    assert len(render.button_label(12, citation)) == render.BUTTON_CHARS


def test_the_bot_refuses_to_start_without_token_or_allow_list(capsys):
    assert run_bot(Settings(_env_file=None, telegram_bot_token=None), public=True) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err
    assert run_bot(Settings(_env_file=None, telegram_bot_token=TOKEN, allowed_users=[]), public=False) == 2
    err = capsys.readouterr().err
    assert "NEWSDESK_ALLOWED_USERS" in err and "--public" in err and TOKEN not in err


def test_the_base_url_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NEWSDESK_TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    assert Settings(_env_file=None).telegram_base_url == "http://127.0.0.1:8081/bot"


def test_the_token_is_redacted_from_log_records():
    try:
        raise ValueError(f"POST https://api.telegram.org/bot{TOKEN}/getMe failed")
    except ValueError as exc:
        record = logging.LogRecord("httpx", logging.ERROR, __file__, 1, "HTTP Request: %s", (f"/bot{TOKEN}/x",),
                                   (type(exc), exc, exc.__traceback__))
    RedactToken(TOKEN).filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted and "/bot<token>/x" in formatted and "bot<token>/getMe" in formatted
