"""Strangers get nothing, /add reaches no private address and is bounded, the token never leaks, and the
bot answers 50 users at once without mixing them up or growing in memory."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from bot import telegram_handlers as handlers
from embeddings import fetch
from tests.bot.test_telegram_e2e import PAGE
from tests.robustness.conftest import ALLOWED, CROWD, STRANGER, town_question

GROUP = -100999
PUBLIC_HOST, PUBLIC_ADDRESS = "news.example.com", "93.184.215.14"  # resolved by the test's own DNS


class _Site(BaseHTTPRequestHandler):
    """A local web server that is also an HTTP proxy for PUBLIC_HOST; it records every path asked for."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        """Route by host and path: a proxied PUBLIC_HOST request, a page, or one of the hostile behaviours."""
        parts = urlsplit(self.path)
        self.server.hits.append(self.path)
        self.server.hosts.append(self.headers.get("Host"))
        if parts.hostname == PUBLIC_HOST and parts.path == "/redirect":
            return self._send(302, b"", Location=f"http://127.0.0.1:{self.server.server_address[1]}/secret")
        if parts.path in ("/story", "/secret"):
            return self._send(200, PAGE.encode(), **{"Content-Type": "text/html"})
        getattr(self, "_" + parts.path.strip("/"))()

    def _send(self, status: int, body: bytes, **headers) -> None:
        """A whole response with its Content-Length."""
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _big(self) -> None:
        """A page whose Content-Length admits it is too big."""
        self._send(200, b"<p>" + b"x" * 200_000 + b"</p>", **{"Content-Type": "text/html"})

    def _endless(self) -> None:
        """A page with no Content-Length that never stops coming."""
        self._stream_headers()
        for _ in range(10_000):
            self.wfile.write(b"<p>" + b"y" * 8192 + b"</p>")

    def _stream_headers(self) -> None:
        """A 200 HTML response with no length: its body runs until the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()

    def _slow(self) -> None:
        """A server that does not answer for 20 seconds."""
        time.sleep(20)

    def _trickle(self) -> None:
        """Headers at once, then one byte every 0.2 s: every read is quick, the whole never ends."""
        self._stream_headers()
        for _ in range(150):
            self.wfile.write(b"z")
            self.wfile.flush()
            time.sleep(0.2)

    def log_message(self, format, *args):  # noqa: A002
        """Stay quiet."""


class _QuietServer(ThreadingHTTPServer):
    """The site's server, silent about clients that hang up."""

    def handle_error(self, request, client_address):
        """Clients hanging up on the slow pages is the point of them."""


@pytest.fixture(scope="module")
def site():
    """The local site/proxy; `site.url(path)` and `site.hits`."""
    server = _QuietServer(("127.0.0.1", 0), _Site)
    server.daemon_threads, server.hits, server.hosts = True, [], []
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


# ---- the allow-list ------------------------------------------------------------------------------

def test_a_stranger_gets_one_refusal_and_nothing_else(robust_bot, site):
    hits = len(site.hits)
    for text in (town_question(3), "/start", "/help", "/sources", "/reset", f"/ask {town_question(4)}",
                 f"/add {site.url('/story')}", "/nonsense"):
        robust_bot.emu.send_message(STRANGER["id"], text, user=STRANGER)
    robust_bot.wait_until(lambda: not robust_bot.emu.pending_updates(), "the bot to read the updates")
    time.sleep(1)
    assert [m["text"] for m in robust_bot.emu.bot_messages(STRANGER["id"])] == [handlers.REFUSAL]
    assert len(site.hits) == hits, "a stranger's /add reached the web"


def test_a_stranger_pressing_a_button_in_a_group_sees_nothing(robust_bot):
    [answer] = robust_bot.say(GROUP, f"/ask {town_question(5)}", ALLOWED, chat_type="group")
    button = answer["reply_markup"]["inline_keyboard"][0][0]  # the first cited article: Place5
    before = len(robust_bot.emu.bot_messages(GROUP))
    robust_bot.emu.press_button(GROUP, answer["message_id"], button["callback_data"], user=STRANGER)
    robust_bot.wait_until(lambda: robust_bot.emu.callback_answers, "the answer to the button press")
    time.sleep(1)
    assert robust_bot.emu.callback_answers[-1].get("text") == handlers.REFUSAL
    assert len(robust_bot.emu.bot_messages(GROUP)) == before, "the stranger was shown the source"
    robust_bot.emu.press_button(GROUP, answer["message_id"], button["callback_data"], user=ALLOWED)
    robust_bot.wait_until(lambda: len(robust_bot.emu.bot_messages(GROUP)) > before, "the context for Ann")
    assert "Place5" in robust_bot.emu.bot_messages(GROUP)[-1]["text"]


# ---- /add and private addresses --------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "169.254.169.254"])
def test_add_refuses_private_addresses(robust_bot, site, host):
    port = site.server_address[1]
    hits = len(site.hits)
    [reply] = robust_bot.say(ALLOWED["id"], f"/add http://{host}:{port}/story", ALLOWED)
    assert reply["text"].startswith("Could not add that page:") and "non-public address" in reply["text"]
    assert len(site.hits) == hits


@pytest.fixture
def public_name(monkeypatch, site):
    """PUBLIC_HOST resolves to a public address, and HTTP goes through the local site acting as a proxy."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == PUBLIC_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC_ADDRESS, 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setenv("HTTP_PROXY", site.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def test_add_follows_a_public_page_but_not_its_redirect_to_loopback(public_name, site):
    article = fetch.fetch_article(f"http://{PUBLIC_HOST}/story")
    assert "Kittiwake" in article.title
    with pytest.raises(fetch.FetchError, match=r"127\.0\.0\.1 resolves to a non-public address"):
        fetch.fetch_article(f"http://{PUBLIC_HOST}/redirect")
    assert not any(hit.endswith("/secret") for hit in site.hits)


@pytest.fixture
def no_proxy(monkeypatch):
    """No proxy in the environment: newsdesk connects to the page's host itself."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_add_connects_only_to_an_address_it_checked_so_dns_rebinding_is_refused(monkeypatch, site, no_proxy):
    """The name resolves to a public address when /add checks it and to loopback a moment later."""
    port, real, answers = site.server_address[1], socket.getaddrinfo, iter([PUBLIC_ADDRESS])

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (next(answers, "127.0.0.1"), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    hits = len(site.hits)
    refused = r"rebind\.example\.com resolves to a non-public address \(127\.0\.0\.1\)"
    with pytest.raises(fetch.FetchError, match=refused):
        fetch.fetch_article(f"http://rebind.example.com:{port}/story")
    assert len(site.hits) == hits, "nothing may reach the private address"


def test_a_direct_download_goes_to_the_checked_address_under_the_page_host_name(monkeypatch, site, no_proxy):
    port = site.server_address[1]
    # The policy is stubbed so that the local site can play a public one; the connection is real.
    monkeypatch.setattr(fetch, "public_addresses", lambda host, port: ["127.0.0.1"])
    article = fetch.fetch_article(f"http://{PUBLIC_HOST}:{port}/story")
    assert "Kittiwake" in article.title and site.hosts[-1] == f"{PUBLIC_HOST}:{port}"


@pytest.mark.parametrize("path, message", [("/big", "larger than the 0.125 MB limit"),
                                           ("/endless", "larger than the 0.125 MB limit"),
                                           ("/slow", "did not answer within 1 s"),
                                           ("/trickle", "did not finish downloading within 1 s")])
def test_a_download_is_bounded_in_size_and_time(site, path, message):
    began = time.monotonic()
    with pytest.raises(fetch.FetchError, match=message):
        fetch.download(site.url(path), allow_private=True, max_bytes=2**17, timeout=1)
    assert time.monotonic() - began < 5


# ---- load and memory -----------------------------------------------------------------------------

def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def ask_crowd(bot, round_: int) -> None:
    """Every user of the crowd asks about their own town at once; each must get their own answer."""
    counts = {u["id"]: len(bot.emu.bot_messages(u["id"])) for u in CROWD}
    towns = {u["id"]: (round_ * 7 + n) % 60 for n, u in enumerate(CROWD)}
    for user in CROWD:
        bot.emu.send_message(user["id"], town_question(towns[user["id"]]), user=user)
    bot.wait_until(lambda: all(len(bot.emu.bot_messages(u["id"])) > counts[u["id"]] for u in CROWD),
                   f"50 replies in round {round_}", timeout=60)
    for user in CROWD:
        [reply] = bot.emu.bot_messages(user["id"])[counts[user["id"]]:]
        first_quote = reply["text"].split("”", 1)[0]
        assert f"Place{towns[user['id']]} opened bridge number {towns[user['id']]} " in first_quote, reply["text"]


@pytest.mark.slow
def test_fifty_users_at_once_each_get_their_own_answer_and_memory_stays_flat(robust_bot):
    rounds, samples = 20, []
    began = time.monotonic()
    for round_ in range(rounds):
        ask_crowd(robust_bot, round_)
        samples.append(rss_mb(robust_bot.process.pid))
    seconds = time.monotonic() - began
    print(f"{rounds * len(CROWD)} questions in {seconds:.0f}s; bot RSS (MB) per round: "
          f"{', '.join(f'{s:.0f}' for s in samples)}")
    assert robust_bot.emu.rejections == []
    warm = samples[1]  # after the first round every code path and cache is in use
    assert max(samples[2:]) - warm < 25, f"memory grew from {warm:.0f} MB to {max(samples):.0f} MB"


# ---- the token -----------------------------------------------------------------------------------

def test_the_token_never_appears_in_logs_or_replies(robust_bot):
    robust_bot.emu.inject_429(8, retry_after=1)  # more than the bot retries: an error it must log and survive
    robust_bot.emu.send_message(ALLOWED["id"], town_question(8), user=ALLOWED)
    robust_bot.wait_until(lambda: "ERROR" in robust_bot.log(), "the error to be logged")
    time.sleep(5)
    robust_bot.emu.inject_429(0)
    robust_bot.emu.rejections.clear()
    secret = robust_bot.emu.token.split(":")[1]
    replies = [m["text"] for chat in (ALLOWED["id"], STRANGER["id"], GROUP) for m in robust_bot.emu.bot_messages(chat)]
    assert not any(secret in text for text in replies)
    assert not any(secret in (a.get("text") or "") for a in robust_bot.emu.callback_answers)
    log = robust_bot.log()
    assert "Traceback" in log and "RetryAfter" in log, "the error path was not exercised"
    assert secret not in log and robust_bot.emu.token not in log
