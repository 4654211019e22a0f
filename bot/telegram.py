"""`newsdesk telegram`: the python-telegram-bot Application, long polling, around bot/telegram_handlers.py."""

from __future__ import annotations

import asyncio
import logging
import sys

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot import telegram_follow
from bot import telegram_handlers as handlers
from bot.settings import Settings
from bot.wiring import open_pipeline

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "What this bot is and what it knows"),
    BotCommand("ask", "Ask a question (in groups)"),
    BotCommand("sources", "The articles behind the last answer"),
    BotCommand("reset", "Forget this conversation"),
    BotCommand("add", "Add a web page: /add URL"),
    BotCommand("follow", "Tell me when new articles answer: /follow QUESTION"),
    BotCommand("following", "The questions you follow"),
    BotCommand("unfollow", "Stop following one: /unfollow N"),
    BotCommand("help", "How to ask, and the commands"),
]
MAX_RETRIES = 3  # a 429 is retried this often, each time after Telegram's retry_after
REDACTED = "<token>"


class RedactToken(logging.Filter):
    """Removes the bot token from every log record: httpx and PTB log request URLs that contain it."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, REDACTED)
        return True


def configure_logging(token: str) -> None:
    """INFO logs on stderr with the token redacted; httpx's request lines (URLs with the token) off."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    for name in ("httpx", "faiss", "sentence_transformers"):  # per-request lines, loader chatter, progress bars
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(token))


def bot_config(settings: Settings, pipeline, public: bool) -> handlers.BotConfig:
    """Handler configuration from the settings: --public opens questions to all, never /add."""
    allow_list = handlers.AllowedUsers(settings.allowed_users)
    return handlers.BotConfig(pipeline, settings, allowed=None if public else allow_list, adders=allow_list)


async def _post_init(application: Application) -> None:
    """Register the command menu and load the model and index before the first question arrives."""
    await application.bot.set_my_commands(COMMANDS)
    pipeline = application.bot_data["newsdesk"].pipeline
    await asyncio.to_thread(pipeline.warm)
    log.info("ready: %d articles in %s", (await asyncio.to_thread(pipeline.stats))["articles"], pipeline.index_dir)


def build_application(cfg: handlers.BotConfig, token: str, base_url: str | None = None,
                      request: BaseRequest | None = None, update_every: float | None = None) -> Application:
    """The Application: handlers, rate limiter with 429 retries, concurrent updates; `request` is for tests."""
    builder = (ApplicationBuilder().token(token).concurrent_updates(True).post_init(_post_init)
               .rate_limiter(AIORateLimiter(max_retries=MAX_RETRIES))
               .defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True))))
    if base_url:
        builder = builder.base_url(base_url)  # PTB appends "<token>/<method>"
    if request:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    telegram_follow.register(application, cfg, update_every, cfg.settings.alert_check_seconds)  # before
    handlers.register(application, cfg)  # the catch-all for unknown commands
    return application


def _startup_problem(settings: Settings, public: bool) -> str | None:
    """Why the bot must not start, in words that say what to set."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        return "set TELEGRAM_BOT_TOKEN (from @BotFather) in the environment or in .env"
    if not settings.allowed_users and not public:
        return ("no allow-list: set NEWSDESK_ALLOWED_USERS to your Telegram user id or @username "
                "(comma-separated for several), or pass --public to let anyone ask")
    return None


def run_bot(settings: Settings, public: bool, update_every: float | None = None) -> int:
    """Answer Telegram chats by long polling until SIGINT or SIGTERM; 0 after a clean stop."""
    problem = _startup_problem(settings, public)
    if problem:
        print(f"newsdesk telegram: {problem}", file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.get_secret_value()
    configure_logging(token)
    pipeline = open_pipeline(settings)
    pipeline.stats()  # a missing or damaged index stops the bot here, with the index's own message
    application = build_application(bot_config(settings, pipeline, public), token, settings.telegram_base_url,
                                    update_every=update_every)
    try:
        application.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY])
    except TelegramError as exc:  # a rejected token, or no Bot API server at the base URL
        print(f"newsdesk telegram: the Bot API refused: {str(exc).replace(token, REDACTED)}", file=sys.stderr)
        return 1
    return 0
