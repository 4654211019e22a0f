"""Telegram: standing questions (/follow, /following, /unfollow), the alerts they raise when new articles
answer them, and the bot's own feed updates (--update-every), all on PTB's JobQueue, off the event loop."""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import render
from bot.telegram_handlers import BotConfig, config, send_html, send_to_chat, source_keyboard
from bot.wiring import feed_updater
from retrieval.standing import Alert, StandingQuestions

log = logging.getLogger(__name__)

FOLLOWS_FILE = "follows.json"  # inside the index directory, beside its generations
CHECK_EVERY = 30.0  # seconds between looks for new articles (whoever added them)
MAX_ALERTS_PER_CHECK = 3  # per chat; the rest are summed up in one line
USAGE_FOLLOW = "Follow a question like this: /follow any news on the Ostry tram extension?"
FULL = "You follow the most questions I keep per chat; /unfollow one first."
NONE_FOLLOWED = "You follow no questions. /follow QUESTION and I'll tell you when a new article answers it."
USAGE_UNFOLLOW = "Say which, by its number in /following: /unfollow 2"


def standing(context: ContextTypes.DEFAULT_TYPE) -> StandingQuestions:
    return context.bot_data["standing"]


async def follow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow QUESTION: tell this chat when a new article answers it."""
    question = " ".join(context.args).strip()
    if not question:
        await send_html(update, context, USAGE_FOLLOW)
        return
    added = await asyncio.to_thread(standing(context).add, update.effective_chat.id, question)
    reply = FULL if added is None else (f"Following “{html.escape(question, quote=False)}”. I'll send the "
                                        "answer here when a new article holds it.")
    await send_html(update, context, reply)


async def following(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/following: this chat's standing questions, numbered for /unfollow."""
    mine = standing(context).of(update.effective_chat.id)
    lines = [f"{n}. {html.escape(f.question, quote=False)}" for n, f in enumerate(mine, start=1)]
    await send_html(update, context, "\n".join(["You follow:", *lines]) if lines else NONE_FOLLOWED)


async def unfollow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unfollow N: stop following the N-th question of /following."""
    number = context.args[0] if len(context.args) == 1 else ""
    removed = None
    if number.isdigit():
        removed = await asyncio.to_thread(standing(context).remove, update.effective_chat.id, int(number))
    reply = USAGE_UNFOLLOW if removed is None else f"Stopped following “{html.escape(removed.question, quote=False)}”."
    await send_html(update, context, reply)


async def check_follows(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Job: ask the standing questions of any articles the index gained, and send what they answer."""
    cfg: BotConfig = config(context)
    alerts = await asyncio.to_thread(standing(context).check, cfg.pipeline, cfg.settings.top)
    by_chat: dict[int, list[Alert]] = {}
    for alert in alerts:
        by_chat.setdefault(alert.follow.chat_id, []).append(alert)
    for chat_id, chat_alerts in by_chat.items():
        await _send_alerts(context, chat_id, chat_alerts)


async def _send_alerts(context: ContextTypes.DEFAULT_TYPE, chat_id: int, alerts: list[Alert]) -> None:
    """A few alerts to one chat, each headed by its question; the rest summed up in one line."""
    for alert in alerts[:MAX_ALERTS_PER_CHECK]:
        head = f"New on “{html.escape(alert.follow.question, quote=False)}”:\n\n"
        pieces = render.answer_html(alert.answer, limit=render.TELEGRAM_LIMIT - len(head))
        pieces[0] = head + pieces[0]
        try:
            await send_to_chat(context.bot, chat_id, pieces, source_keyboard(alert.answer))
        except TelegramError as exc:  # e.g. the chat blocked the bot: the others still get theirs
            log.warning("alert to chat %s not sent: %s", chat_id, exc)
            return
    if len(alerts) > MAX_ALERTS_PER_CHECK:
        more = len(alerts) - MAX_ALERTS_PER_CHECK
        await context.bot.send_message(chat_id, f"…and {more} more of your followed questions have news: /following")


async def update_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Job: one `newsdesk update` pass in a worker thread, then the alerts it brings."""
    cfg: BotConfig = config(context)
    updater = feed_updater(cfg.settings, cfg.pipeline.encoder)
    try:
        report = await asyncio.to_thread(updater.run)
        log.info("feeds: %s", report.summary())
    except Exception:  # a locked or broken index must not stop the bot; the next run tries again
        log.exception("feed update failed")
    await check_follows(context)


def register(application: Application, cfg: BotConfig, update_every: float | None = None,
             check_every: float = CHECK_EVERY) -> None:
    """The follow commands (allow-listed users only) and the jobs that update feeds and send alerts."""
    application.bot_data["standing"] = StandingQuestions(cfg.settings.index / FOLLOWS_FILE)
    application.add_handlers([CommandHandler("follow", follow, filters=cfg.adders),
                              CommandHandler("following", following, filters=cfg.adders),
                              CommandHandler("unfollow", unfollow, filters=cfg.adders)], group=0)
    jobs = application.job_queue
    jobs.run_repeating(check_follows, interval=check_every, first=0, name="check follows")
    if update_every:
        jobs.run_repeating(update_feeds, interval=update_every, first=1, name="update feeds")
