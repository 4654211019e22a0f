"""The Telegram bot's behaviour: thin async handlers over the pipeline and bot/render.py.

Handlers read their configuration from ``context.bot_data["newsdesk"]`` (a BotConfig) and keep
each chat's Conversation in ``context.chat_data``; anything slow runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application, ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler,
    TypeHandler, filters,
)

from bot import render
from bot.settings import Settings
from bot.wiring import add_url
from embeddings.fetch import FetchError
from embeddings.storage.store import IndexError_
from retrieval.conversation import Conversation
from retrieval.models import Answer, AnswerSentence
from retrieval.pipeline import Pipeline, SentenceContext

log = logging.getLogger(__name__)
T = TypeVar("T")

START = ("<b>Newsdesk</b> answers questions about the news with sentences quoted word for word from the "
         "{count} articles it knows, each with a numbered source you can open.\n\n"
         "Just ask, for example: <i>Who won the election?</i>\n/help lists the commands.")
HELP = ("Write a question in your own words; I reply with sentences quoted from the articles, and "
        "[n] points to the source. Press a source button to read the paragraph around the quote.\n\n"
        "/ask QUESTION – ask (in a group: or mention me, or reply to my message)\n"
        "/sources – the articles behind the last answer\n"
        "/reset – forget this conversation\n"
        "/add URL – add a web page to the articles\n"
        "/help – this text")
BUSY = "Still working on your last question…"
REFUSAL = "Sorry, this is a private bot."
SORRY = "Sorry, something went wrong while answering. Please try again."
STALE = "That source is no longer in the index (it was updated). Please ask again."
NO_SOURCES = "No sources yet: ask a question first."
RESET = "Conversation cleared. Ask me anything."
USAGE_ASK = "Ask like this: /ask Who won the election?"
USAGE_ADD = "Add a page like this: /add https://example.com/news/story.html"
NO_ADD = "Only the bot's allowed users can add articles."
UNKNOWN = "I don't know that command. /help lists what I can do."
TYPING_EVERY = 4.0  # seconds; Telegram shows "typing…" for 5 s per chat action


class AllowedUsers(filters.UpdateFilter):
    """The allow-list of user ids and usernames, checked against the update's sender.

    PTB's filters.User looks at the message's sender, which for a button press is the bot itself, and
    holds either ids or usernames; this checks update.effective_user against both, so `filter(update)`
    guards callback queries too. Usernames compare case-insensitively, as Telegram treats them.
    """

    def __init__(self, entries: list[str]):
        super().__init__(name="AllowedUsers")
        self.ids = {int(e) for e in entries if e.lstrip("-").isdigit()}
        self.usernames = {e.lstrip("@").lower() for e in entries if not e.lstrip("-").isdigit()}

    def filter(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and (user.id in self.ids or (user.username or "").lower() in self.usernames)


class _AddressedToBot(filters.MessageFilter):
    """A message that mentions the bot or replies to one of its messages."""

    def filter(self, message) -> bool:
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == bot.id:
            return True
        mentions = message.parse_entities([MessageEntity.MENTION]).values()
        return f"@{bot.username}".lower() in (mention.lower() for mention in mentions)


TO_BOT = filters.ChatType.PRIVATE | _AddressedToBot()  # in groups the bot answers only what is meant for it
ADDRESSED = TO_BOT | filters.COMMAND


@dataclass
class BotConfig:
    """What the handlers need: the pipeline, the settings, and who may ask and who may add."""

    pipeline: Pipeline
    settings: Settings
    allowed: AllowedUsers | None  # None: anyone may ask (--public)
    adders: AllowedUsers
    busy: set[int] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)


def config(context: ContextTypes.DEFAULT_TYPE) -> BotConfig:
    """The BotConfig that register() stored in bot_data."""
    return context.bot_data["newsdesk"]


def conversation(context: ContextTypes.DEFAULT_TYPE) -> Conversation:
    """This chat's conversation, created on first use."""
    return context.chat_data.setdefault("conversation", Conversation())


# ---- pure core: buttons, their data, adding a page ------------------------------------------------

def _check(article_id: str, start: int) -> str:
    """A short digest tying a button to one article and offset."""
    return hashlib.sha256(f"{article_id}\x1f{start}".encode()).hexdigest()[:10]


def callback_data(sentence: AnswerSentence) -> str:
    """"ctx:<sentence id>:<digest>", ≤ 32 bytes; the digest no longer matches once the index changed."""
    return f"ctx:{sentence.sentence_id}:{_check(sentence.citation.article_id, sentence.citation.start)}"


def find_context(pipeline: Pipeline, data: str) -> SentenceContext | None:
    """The sentence a button points to, or None when the data is foreign or the index changed since."""
    match = re.fullmatch(r"ctx:(\d+):([0-9a-f]{10})", data)
    found = pipeline.context(int(match[1])) if match else None
    if found is None or _check(found.article.id, found.start) != match[2]:
        return None
    return found


def source_keyboard(answer: Answer) -> InlineKeyboardMarkup | None:
    """One button per cited article, opening the context of its first quoted sentence."""
    first: dict[str, AnswerSentence] = {}
    for sentence in answer.sentences:
        if sentence.sentence_id is not None:
            first.setdefault(sentence.citation.article_id, sentence)
    numbers = render.source_numbers(answer)
    rows = [[InlineKeyboardButton(render.button_label(numbers[article_id], s.citation), callback_data=callback_data(s))]
            for article_id, s in first.items()]
    return InlineKeyboardMarkup(rows) if rows else None


def add_page(cfg: BotConfig, url: str) -> str:
    """Fetch a page, extract and index its article as `newsdesk add` does; the HTML reply (blocking)."""
    article, report = add_url(url, cfg.settings, cfg.pipeline.encoder)
    log.info("/add %s: %s", url, report.summary())
    title = html.escape(article.title, quote=False)
    if report.problems:
        raise FetchError(f"no sentences found in {url}")
    if report.added or report.updated:
        verb = "Added" if report.added else "Updated"
        return f"{verb} “{title}”: {report.sentences} sentences. Ask away."
    return f"“{title}” is already in the index, unchanged."


# ---- sending -------------------------------------------------------------------------------------

async def send_html(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str,
                    keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Send one HTML message to the update's chat (quoting it in groups)."""
    await send_pieces(update, context, [text], keyboard)


async def send_pieces(update: Update, context: ContextTypes.DEFAULT_TYPE, pieces: list[str],
                      keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Send a reply split into messages to the update's chat (quoting it in groups), the buttons under the last."""
    chat, message = update.effective_chat, update.effective_message
    quote = chat.type != Chat.PRIVATE and message is not None
    reply = ReplyParameters(message.message_id, allow_sending_without_reply=True) if quote else None
    await send_to_chat(context.bot, chat.id, pieces, keyboard, reply)


async def send_to_chat(bot, chat_id: int, pieces: list[str], keyboard: InlineKeyboardMarkup | None = None,
                       reply: ReplyParameters | None = None) -> None:
    """HTML messages to a chat, the buttons under the last; one Telegram cannot parse goes as plain text."""
    for number, piece in enumerate(pieces, start=1):
        markup = keyboard if number == len(pieces) else None
        try:
            await bot.send_message(chat_id, piece, parse_mode=ParseMode.HTML, reply_markup=markup,
                                   reply_parameters=reply)
        except BadRequest as exc:
            if "can't parse entities" not in exc.message.lower():
                raise
            log.warning("Telegram rejected a message's HTML (%s); sending it as plain text", exc.message)
            await bot.send_message(chat_id, render.html_to_plain(piece), reply_markup=markup, reply_parameters=reply)


@contextlib.asynccontextmanager
async def typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int):
    """Show "typing…" in the chat until the block ends; a chat action in flight finishes (not aborted)."""
    stop = asyncio.Event()

    async def keep_typing():
        while not stop.is_set():
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), TYPING_EVERY)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        stop.set()
        await task


async def one_at_a_time(update: Update, context: ContextTypes.DEFAULT_TYPE, work: Callable[[], Awaitable[T]],
                        deliver: Callable[[T], Awaitable[None]]) -> None:
    """Run `work` showing "typing…" unless this user has one in flight; free the user, then `deliver` the reply."""
    busy, user = config(context).busy, update.effective_user.id
    if user in busy:
        await send_html(update, context, BUSY)
        return
    busy.add(user)
    try:
        async with typing(context, update.effective_chat.id):
            result = await work()
    finally:
        busy.discard(user)
    await deliver(result)


# ---- handlers ------------------------------------------------------------------------------------

async def gatekeeper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop every update from outside the allow-list; each stranger gets one short refusal."""
    cfg = config(context)
    if cfg.allowed is None or cfg.allowed.filter(update):  # not check_update: that passes only messages
        return
    user = update.effective_user
    if update.callback_query:
        await update.callback_query.answer(REFUSAL)
    elif user and update.effective_chat and user.id not in cfg.refused and ADDRESSED.check_update(update):
        cfg.refused.add(user.id)
        await send_html(update, context, REFUSAL)
    raise ApplicationHandlerStop


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What the bot is, how many articles it knows, an example question."""
    stats = await asyncio.to_thread(config(context).pipeline.stats)
    await send_html(update, context, START.format(count=stats["articles"]))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The commands and how to ask."""
    await send_html(update, context, HELP)


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any text in a private chat, or a group message that mentions the bot or replies to it."""
    mention = re.compile(rf"@{re.escape(context.bot.username)}\b", re.IGNORECASE)
    await answer(update, context, mention.sub("", update.effective_message.text))


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION, the way to ask in a group."""
    await answer(update, context, " ".join(context.args))


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Answer a question off the event loop, with citations and one source button per article."""
    if not text.strip():
        await send_html(update, context, USAGE_ASK)
        return

    async def work() -> Answer:
        cfg = config(context)
        return await asyncio.to_thread(cfg.pipeline.ask, text, conversation=conversation(context),
                                       top=cfg.settings.top)

    async def deliver(reply: Answer) -> None:
        await send_pieces(update, context, render.answer_html(reply), source_keyboard(reply))

    await one_at_a_time(update, context, work, deliver)


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The articles behind the last answer in this chat."""
    last = conversation(context).last()
    if last is None or not last.answered:
        await send_html(update, context, NO_SOURCES)
    else:
        await send_pieces(update, context, render.sources_html(last), source_keyboard(last))


async def reset(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forget this chat's conversation."""
    conversation(context).clear()
    await send_html(update, context, RESET)


async def show_context(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A source button: the paragraph around the quoted sentence, with the article's title and link."""
    query = update.callback_query
    found = await asyncio.to_thread(find_context, config(context).pipeline, query.data or "")
    if found is None:
        await query.answer(STALE, show_alert=True)
        return
    await query.answer()
    await send_html(update, context, render.context_html(*found))


async def add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add URL: fetch, extract and index a web page, then say what was added."""
    if len(context.args) != 1:
        await send_html(update, context, USAGE_ADD)
        return

    async def work() -> str:
        try:
            return await asyncio.to_thread(add_page, config(context), context.args[0])
        except (FetchError, IndexError_) as exc:
            return f"Could not add that page: {html.escape(str(exc), quote=False)}"

    await one_at_a_time(update, context, work, lambda reply: send_html(update, context, reply))


async def refuse_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add from someone outside the allow-list of a --public bot."""
    await send_html(update, context, NO_ADD)


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not have, in a private chat."""
    await send_html(update, context, UNKNOWN)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the exception with its traceback; tell the user something went wrong, never what."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, SORRY)


def register(application: Application, cfg: BotConfig) -> None:
    """Put the config and every handler on the Application; strangers are stopped before any handler."""
    application.bot_data["newsdesk"] = cfg
    application.add_handler(TypeHandler(Update, gatekeeper), group=-1)
    application.add_handlers([
        CommandHandler("start", start), CommandHandler("help", help_command), CommandHandler("ask", ask),
        CommandHandler("sources", sources), CommandHandler("reset", reset),
        CommandHandler("add", add, filters=cfg.adders), CommandHandler("add", refuse_add),
        MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown),
        MessageHandler(filters.TEXT & ~filters.COMMAND & TO_BOT, question),
        CallbackQueryHandler(show_context),
    ])
    application.add_error_handler(on_error)
