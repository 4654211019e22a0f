"""The Telegram emulator behaves like Telegram for python-telegram-bot's own Bot and Application."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from telegram_emulator import Emulator  # noqa: E402

ANN = {"id": 5001, "is_bot": False, "first_name": "Ann", "username": "ann"}
CHAT = ANN["id"]  # a private chat's id is the user's id
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])


@pytest.fixture
def emu():
    """A running emulator in which Ann has written to the bot (so her chat exists)."""
    emulator = Emulator()
    emulator.start()
    emulator.send_message(CHAT, "hello", user=ANN)
    yield emulator
    emulator.stop()


def with_bot(emu: Emulator, action, token: str | None = None):
    """Run action(bot) with an initialised PTB Bot pointed at the emulator."""
    async def main():
        async with Bot(token or emu.token, base_url=emu.base_url) as bot:
            return await action(bot)
    return asyncio.run(main())


def raw_call(emu: Emulator, method: str, params: dict, token: str | None = None):
    """POST a form-encoded call by hand; return (HTTP status, JSON answer)."""
    data = urllib.parse.urlencode(params).encode()
    url = f"{emu.base_url}{token or emu.token}/{method}"
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_get_me_under_ptb(emu):
    me = with_bot(emu, lambda bot: bot.get_me())
    assert me.is_bot and me.username == "newsdesk_test_bot" and me.can_join_groups
    assert me.id == int(emu.token.split(":")[0])


def test_valid_html_is_accepted_as_telegram_returns_it(emu):
    text = '<b>Answer</b> &amp; <a href="https://example.com/a?x=1&amp;y=2">source</a>'
    sent = with_bot(emu, lambda bot: bot.send_message(CHAT, text, parse_mode="HTML",
                                                      reply_markup=KEYBOARD))
    assert sent.text == "Answer & source" and sent.from_user.is_bot
    assert abs((sent.date - dtm.datetime.now(dtm.timezone.utc)).total_seconds()) < 5
    assert [e.type for e in sent.entities] == ["bold", "text_link"]
    assert sent.entities[1].url == "https://example.com/a?x=1&y=2"
    assert sent.reply_markup == KEYBOARD
    logged = emu.bot_messages(CHAT)[0]
    assert logged["source"] == text and logged["parse_mode"] == "HTML"
    assert emu.rejections == []


@pytest.mark.parametrize("text, parse_mode, description", [
    ("", None, "Bad Request: message text is empty"),
    (" \n ", None, "Bad Request: message text is empty"),
    ("<b></b>", "HTML", "Bad Request: message text is empty"),
    ("x" * 4097, None, "Bad Request: message is too long"),
    ("😀" * 2049, None, "Bad Request: message is too long"),  # 4098 UTF-16 code units
    ("<b>hi</b>" + "x" * 4095, "HTML", "Bad Request: message is too long"),
    ("<p>hi</p>", "HTML",
     'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 0'),
    ("<b>hi", "HTML",
     'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"'),
    ("<b>hi</i>", "HTML", "Bad Request: can't parse entities: Unmatched end tag at byte offset "
                          '5, expected "</b>", found "</i>"'),
    ("1 < 2", "HTML",
     'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2'),
    ("AT&T", "HTML", "Bad Request: can't parse entities: Unescaped \"&\" at byte offset 2"),
    ("hi", "Markdown2", "Bad Request: unsupported parse_mode"),
])
def test_bad_text_is_rejected_with_telegrams_wording(emu, text, parse_mode, description):
    with pytest.raises(BadRequest) as caught:
        with_bot(emu, lambda bot: bot.send_message(CHAT, text, parse_mode=parse_mode))
    assert emu.rejections[-1]["description"].startswith(description)
    assert emu.rejections[-1]["error_code"] == 400
    assert caught.value.message.lower() == emu.rejections[-1]["description"][13:].lower()


def test_length_limit_counts_utf16_after_entities(emu):
    ok = with_bot(emu, lambda bot: bot.send_message(
        CHAT, "<i>" + "😀" * 2048 + "</i>", parse_mode="HTML"))
    assert len(ok.text) == 2048 and ok.entities[0].length == 4096


def test_every_supported_tag_parses(emu):
    text = ("<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
            "<strike>k</strike><del>d</del><span class=\"tg-spoiler\">p</span>"
            "<tg-spoiler>q</tg-spoiler><code>c</code><pre>p</pre>"
            '<pre><code class="language-python">x = 1</code></pre>'
            "<blockquote>q</blockquote><blockquote expandable>e</blockquote>"
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> &lt;&gt;&quot;&#33;&#x21;')
    sent = with_bot(emu, lambda bot: bot.send_message(CHAT, text, parse_mode="HTML"))
    assert sent.text.endswith('👍 <>"!!')
    types = {e.type for e in sent.entities}
    assert {"bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre",
            "blockquote", "expandable_blockquote", "custom_emoji"} <= types
    assert any(e.type == "pre" and e.language == "python" for e in sent.entities)


def test_other_rejections(emu):
    long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    calls = [
        (lambda bot: bot.send_message(CHAT, "hi", reply_markup=long_data),
         "Bad Request: BUTTON_DATA_INVALID"),
        (lambda bot: bot.send_message(424242, "hi"), "Bad Request: chat not found"),
        (lambda bot: bot.send_chat_action(CHAT, "dancing"),
         "Bad Request: wrong parameter action in request"),
        (lambda bot: bot.edit_message_text("new", CHAT, 999),
         "Bad Request: message to edit not found"),
        (lambda bot: bot.edit_message_text("new", CHAT, 1), "Bad Request: message can't be edited"),
        (lambda bot: bot.answer_callback_query("123"), "Bad Request: query is too old"),
    ]
    for action, description in calls:
        with pytest.raises(BadRequest):
            with_bot(emu, action)
        assert emu.rejections[-1]["description"].startswith(description)


def test_identical_edit_is_not_modified(emu):
    async def action(bot):
        sent = await bot.send_message(CHAT, "<b>v1</b>", parse_mode="HTML", reply_markup=KEYBOARD)
        edited = await bot.edit_message_text("<b>v2</b>", CHAT, sent.message_id,
                                             parse_mode="HTML", reply_markup=KEYBOARD)
        assert edited.text == "v2" and edited.edit_date is not None
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("<b>v2</b>", CHAT, sent.message_id, parse_mode="HTML",
                                        reply_markup=KEYBOARD)
        # Without reply_markup the keyboard goes: that is a modification.
        return await bot.edit_message_text("<b>v2</b>", CHAT, sent.message_id, parse_mode="HTML")
    assert with_bot(emu, action).reply_markup is None
    kinds = [(m["kind"], m["text"], bool(m["reply_markup"])) for m in emu.bot_messages(CHAT)]
    assert kinds == [("send", "v1", True), ("edit", "v2", True), ("edit", "v2", False)]


def test_wrong_token_is_unauthorized(emu):
    with pytest.raises(InvalidToken):
        with_bot(emu, lambda bot: bot.get_me(), token="42:wrong-token")
    assert emu.rejections[-1]["error_code"] == 401
    assert emu.rejections[-1]["description"] == "Unauthorized"


def test_raw_answer_shapes(emu):
    status, answer = raw_call(emu, "sendMessage", {"chat_id": CHAT, "text": "hi"})
    assert status == 200 and answer["ok"] is True
    assert isinstance(answer["result"]["date"], int) and answer["result"]["date"] < 10**10
    assert raw_call(emu, "noSuchMethod", {}) == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert raw_call(emu, "getMe", {}, token="1:bad") == (
        401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert raw_call(emu, "sendMessage", {"chat_id": CHAT}) == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})


@pytest.mark.filterwarnings("ignore:.*retry_after")
def test_429_raises_retry_after_then_recovers(emu):
    emu.inject_429(2, retry_after=3)

    async def action(bot):
        for _ in range(2):
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(CHAT, "hi")
            after = caught.value.retry_after
            assert (after.total_seconds() if isinstance(after, dtm.timedelta) else after) == 3
        return await bot.send_message(CHAT, "hi")
    assert with_bot(emu, action).text == "hi"
    assert [r["error_code"] for r in emu.rejections] == [429, 429]
    assert raw_call(emu, "sendMessage", {"chat_id": CHAT, "text": "x"})[0] == 200


def test_long_poll_waits_out_its_timeout():
    with Emulator() as emulator:
        started = time.monotonic()
        assert with_bot(emulator, lambda bot: bot.get_updates(timeout=1)) == ()
        assert 0.9 <= time.monotonic() - started < 2.5


def test_long_poll_returns_as_soon_as_an_update_arrives():
    with Emulator() as emulator:
        threading.Timer(0.3, emulator.send_message, (CHAT, "/start now", ANN)).start()
        started = time.monotonic()
        updates = with_bot(emulator, lambda bot: bot.get_updates(timeout=20))
        assert time.monotonic() - started < 2
    message = updates[0].message
    assert message.text == "/start now" and message.from_user.username == "ann"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6


def test_offset_confirms_updates(emu):
    emu.send_message(CHAT, "second", user=ANN)

    async def action(bot):
        first = await bot.get_updates()
        again = await bot.get_updates()
        confirmed = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
        return first, again, confirmed
    first, again, confirmed = with_bot(emu, action)
    assert [u.message.text for u in first] == ["hello", "second"]
    assert [u.update_id for u in again] == [u.update_id for u in first]
    assert confirmed == () and emu.pending_updates() == []


def test_a_second_poller_terminates_the_first(emu):
    with_bot(emu, lambda bot: bot.get_updates(offset=10**9))  # confirm everything

    async def action(bot):
        # A second Bot: PTB keeps one connection for getUpdates per Bot.
        async with Bot(emu.token, base_url=emu.base_url) as other:
            first = asyncio.create_task(bot.get_updates(timeout=5))
            await asyncio.sleep(0.3)
            second = asyncio.create_task(other.get_updates(timeout=1))
            with pytest.raises(Conflict, match="terminated by other getUpdates"):
                await first
            return await second
    assert with_bot(emu, action) == ()


def test_callback_queries_parse_in_ptb_and_are_answered_once(emu):
    sent = with_bot(emu, lambda bot: bot.send_message(CHAT, "Q?", reply_markup=KEYBOARD))
    with pytest.raises(ValueError):
        emu.press_button(CHAT, sent.message_id, "no-such-button")
    query_id = emu.press_button(CHAT, sent.message_id, "more:1", user=ANN)
    raw = emu.pending_updates()[-1]
    assert Update.de_json(raw, None).callback_query.data == "more:1"

    async def action(bot):
        updates = await bot.get_updates(allowed_updates=["callback_query"])
        assert await bot.answer_callback_query(updates[0].callback_query.id, text="ok")
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(updates[0].callback_query.id)
        return updates
    query = with_bot(emu, action)[0].callback_query
    assert query.id == query_id and query.chat_instance and query.from_user.id == ANN["id"]
    assert query.message.message_id == sent.message_id and query.message.reply_markup == KEYBOARD
    assert emu.callback_answers == [{"callback_query_id": query_id, "text": "ok"}]


def test_allowed_updates_drops_other_kinds(emu):
    updates = with_bot(emu, lambda bot: bot.get_updates(allowed_updates=["callback_query"]))
    assert updates == () and emu.pending_updates() == []


def test_group_privacy_mode_and_entities(emu):
    group = -100500
    assert emu.send_message(group, "just chatting", user=ANN, chat_type="group") is None
    command = emu.send_message(group, "/ask@newsdesk_test_bot who won?", chat_type="group")
    mention = emu.send_message(group, "hey @newsdesk_test_bot, who won?", chat_type="group")
    assert command["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 22}]
    assert mention["message"]["entities"] == [{"type": "mention", "offset": 4, "length": 18}]
    assert mention["message"]["chat"] == {"id": group, "type": "group", "title": "Test group"}
    with pytest.raises(ValueError):
        emu.send_message(77, "hi", user=ANN)  # a private chat's id must be the user's id


def test_commands_round_trip(emu):
    async def action(bot):
        await bot.set_my_commands([BotCommand("ask", "Ask a question")])
        stored = await bot.get_my_commands()
        await bot.delete_my_commands()
        return stored, await bot.get_my_commands()
    stored, after = with_bot(emu, action)
    assert [(c.command, c.description) for c in stored] == [("ask", "Ask a question")]
    assert after == ()


def test_ptb_application_polls_without_spinning():
    async def start(update, context):
        await update.message.reply_html("<b>Hi</b>", reply_markup=KEYBOARD)

    async def more(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("More!")

    async def main(emulator):
        app = Application.builder().token(emulator.token).base_url(emulator.base_url).build()
        app.add_handlers([CommandHandler("start", start), CallbackQueryHandler(more)])
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=5)
            emulator.send_message(CHAT, "/start", user=ANN)
            sent = await asyncio.to_thread(emulator.wait_for_bot_messages, CHAT, 1, 10)
            emulator.press_button(CHAT, sent[0]["message_id"], "more:1", user=ANN)
            await asyncio.to_thread(emulator.wait_for_bot_messages, CHAT, 2, 10)
            await asyncio.sleep(1)
            await app.updater.stop()
            await app.stop()

    with Emulator() as emulator:
        asyncio.run(main(emulator))
    sent, edit = emulator.bot_messages(CHAT)
    assert (sent["text"], sent["reply_to_message_id"], edit["kind"], edit["text"]) == (
        "Hi", None, "edit", "More!")
    assert len(emulator.callback_answers) == 1 and emulator.rejections == []
    assert sum(method == "getUpdates" for method, _ in emulator.requests) < 10


def test_standalone_mode_prints_its_port():
    process = subprocess.Popen([sys.executable, str(TESTS / "telegram_emulator.py"), "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        url = f"http://127.0.0.1:{port}/bot{Emulator().token}/getMe"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert json.load(response)["result"]["is_bot"] is True
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_logs_hold_typed_parameters(emu):
    with_bot(emu, lambda bot: bot.send_message(CHAT, "hi", reply_markup=KEYBOARD))
    method, params = emu.requests[-1]
    assert method == "sendMessage" and params["chat_id"] == CHAT
    assert params["reply_markup"] == KEYBOARD.to_dict()
