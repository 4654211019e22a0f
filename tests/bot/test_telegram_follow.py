"""Standing questions end to end: the real `newsdesk telegram --update-every` against the emulator and a feed
served on 127.0.0.1. A chat follows a question; a story that answers it appears in the feed; the bot's own
update indexes it and the chat gets the answer, once."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot import telegram_follow, telegram_handlers as handlers
from embeddings.feed_update import commit_feeds
from embeddings.feeds import FeedState
from tests.bot.test_telegram_e2e import ANN, EVE, running_bot
from tests.conftest import REPO
from tests.telegram_emulator import Emulator

QUESTION = "any news on the ostry tram extension?"
STORY = """<html><head><title>Ostry tram to reach the university</title></head><body><article>
<h1>Ostry tram to reach the university</h1>
<p>The Ostry tram line will be extended by four kilometres to the university campus, the regional council
decided on Wednesday.</p>
<p>Work on the extension is to start next spring and cost about $95 million, most of it from the national
transport ministry.</p>
<p>Two new stops will serve the campus and the Millbrook business park.</p></article></body></html>"""


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/feed.rss":
            items = "".join(f"<item><guid>{path}</guid><link>{base}{path}</link></item>" for path in self.server.items)
            body, kind = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Ostry Post</title>{items}' \
                         "</channel></rss>", "application/rss+xml"
        elif self.path in self.server.items:
            body, kind = STORY, "text/html"
        else:
            body, kind = "", "text/plain"
            self.send_response(404)
        if kind != "text/plain":
            self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format, *args):  # noqa: A002
        """Stay quiet."""


@pytest.fixture(scope="module")
def feed():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    server.daemon_threads, server.items = True, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def bot(tmp_path_factory, sample_index, encoder, feed):
    tmp = tmp_path_factory.mktemp("follow")
    index = tmp / "index"
    shutil.copytree(sample_index, index)
    state = FeedState(url=f"http://127.0.0.1:{feed.server_address[1]}/feed.rss", added=dt.datetime.now(dt.timezone.utc))
    commit_feeds(index, encoder, save=[state])
    emu = Emulator(privacy_mode=False)
    emu.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TELEGRAM_BOT_TOKEN=emu.token, NEWSDESK_BACKEND=encoder.backend,
               NEWSDESK_ALLOWED_USERS=str(ANN["id"]), NEWSDESK_ALLOW_PRIVATE_URLS="1", NEWSDESK_FEED_DELAY="0",
               NEWSDESK_ALERT_CHECK_SECONDS="1")
    with running_bot(emu, index, env, tmp, 15, "", "--update-every", "1s") as session:
        yield session


def alerts(bot) -> list[dict]:
    return [m for m in bot.emu.bot_messages(ANN["id"]) if m["text"].startswith(f"New on “{QUESTION}”")]


def test_a_stranger_cannot_follow(bot):
    [reply] = bot.say(EVE["id"], f"/follow {QUESTION}", EVE)
    assert reply["text"] == handlers.REFUSAL


def test_a_followed_question_is_answered_once_when_a_new_article_holds_the_answer(bot, feed):
    [reply] = bot.say(ANN["id"], f"/follow {QUESTION}", ANN)
    assert reply["text"].startswith(f"Following “{QUESTION}”")
    time.sleep(3)  # a few updates and checks with nothing new: no alert
    assert alerts(bot) == []
    feed.items.append("/news/ostry-tram-university")
    bot.wait_until(lambda: alerts(bot), "the alert", timeout=60)
    [alert] = alerts(bot)
    assert "extended by four kilometres to the university campus" in alert["text"]
    assert alert["reply_markup"]["inline_keyboard"]  # a source button, as for any answer
    time.sleep(4)
    assert len(alerts(bot)) == 1  # once per article and follow


def test_following_and_unfollow(bot):
    [listed] = bot.say(ANN["id"], "/following", ANN)
    assert listed["text"] == f"You follow:\n1. {QUESTION}"
    [gone] = bot.say(ANN["id"], "/unfollow 1", ANN)
    assert gone["text"] == f"Stopped following “{QUESTION}”."
    [empty] = bot.say(ANN["id"], "/following", ANN)
    assert empty["text"] == telegram_follow.NONE_FOLLOWED
    [usage] = bot.say(ANN["id"], "/unfollow 7", ANN)
    assert usage["text"] == telegram_follow.USAGE_UNFOLLOW
