"""Feeds against a real HTTP server on 127.0.0.1: RSS and Atom, a page that advertises its feed, conditional
GET, new items only, pages else the item's content, retries, broken and hostile feeds, one commit per run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from embeddings.storage import store
from embeddings.feed_update import MAX_TRIES, FeedUpdater, commit_feeds, read_states
from embeddings.feeds import FeedState, load_states, parse_feed, resolve_feed
from embeddings.fetch import FetchError
from embeddings.storage.reader import committed_db
from embeddings.indexer import Indexer
from tests.conftest import NEWSDESK, SHARED, require_shared

STORY = """<html><head><title>{title}</title><link rel="canonical" href="{canonical}"></head><body>
<article><h1>{title}</h1>
<p>{lead} The announcement was made on Tuesday at a meeting of the regional council in Harrowgate Bay.</p>
<p>Officials said the work would begin in the spring and take about eighteen months to complete, with most
of the money coming from the national government and the rest from the regional authority.</p>
<p>Residents who spoke at the meeting welcomed the plan but asked for more detail about the timetable.</p>
</article></body></html>"""
LEADS = {
    "/story/1": "The Ostry tram line will be extended by four kilometres to the university campus.",
    "/story/2": "A new ferry service will link Pemberton and Saltings Point from next summer.",
    "/story/5": "The Millbrook library will open on Sundays from March, the council said.",
}
CONTENT = ("<p>The Eastmere water board said a burst main left 3,000 homes without water for a day.</p>"
           "<p>Engineers replaced forty metres of pipe overnight, and the board apologised to customers "
           "in Dunley and Fennick Bridge for the disruption.</p>")


def rss(base: str) -> str:
    items = [("1", "/story/1", "Tram extension"), ("2", "/story/2", "Ferry service"),
             ("3", "/story/3", "Water main bursts"), ("4", "/story/4", "Teaser only")]
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>{base}{path}</link>"
        f"<pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate>"
        + (f"<content:encoded><![CDATA[{CONTENT}]]></content:encoded>" if guid == "3" else "")
        + (f"<description>Short teaser.</description>" if guid == "4" else "") + "</item>"
        for guid, path, title in items)
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>Coast Wire</title><link>{base}/</link>{body}</channel></rss>")


def atom(base: str) -> str:
    entries = [("tag:x,1", "/story/1?utm=atom", "Tram extension"), ("tag:x,5", "/story/5", "Library Sundays")]
    body = "".join(f"<entry><id>{i}</id><title>{t}</title><link href='{base}{p}'/>"
                   f"<updated>2026-11-04T09:00:00Z</updated></entry>" for i, p, t in entries)
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Herald</title>{body}</feed>'


HOSTILE = {
    "/xxe.xml": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                '<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
                '<link>{base}/story/2</link></item></channel></rss>',
    "/bomb.xml": '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
                 + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefgh", "bcdefghi"))
                 + ']><rss version="2.0"><channel><title>&i;</title><item><title>&i;</title>'
                   '<link>{base}/story/2</link></item></channel></rss>',
}


PUBLIC_HOST, PUBLIC_ADDRESS = "news.example.com", "93.184.216.34"


def _real_pages(count: int = 3) -> list[dict]:
    """A few real news pages with their human-checked text, when the shared data is beside the repository."""
    import gzip

    folder = SHARED / "data" / "html" / "article_extraction_benchmark"
    if not folder.exists():
        return []
    records = [json.loads(line) for line in (folder / "ground_truth.jsonl").read_text().splitlines()[:count]]
    return [{**r, "html": gzip.decompress((folder / r["html_file"]).read_bytes()).decode("utf-8", "replace")}
            for r in records]


REAL = _real_pages()


class _Site(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.server.hits.append(self.path)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        path = re.sub(r"^http://[^/]+", "", self.path).split("?")[0]  # as a proxy, requests name the host
        if path == "/public.rss":
            items = (f"<item><guid>a</guid><link>{base}/story/1</link></item>"
                     f"<item><guid>b</guid><link>http://{PUBLIC_HOST}/to-loopback</link></item>")
            return self._send(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Public</title>'
                                   f"{items}</channel></rss>", "application/rss+xml")
        if path == "/to-loopback":
            return self._send(302, "", "text/plain", {"Location": f"{base}/story/2"})
        if path in ("/feed.rss", "/atom.xml"):
            if self.headers.get("If-None-Match") == '"v1"':
                return self._send(304, "", "application/rss+xml")
            body = rss(base) if path == "/feed.rss" else atom(base)
            return self._send(200, body, "application/rss+xml", {"ETag": '"v1"'})
        if path in LEADS:
            title = {"/story/1": "Tram extension", "/story/2": "Ferry service", "/story/5": "Library Sundays"}[path]
            return self._send(200, STORY.format(title=title, lead=LEADS[path], canonical=base + path), "text/html")
        if path == "/robots.txt":
            return self._send(200, "User-agent: *\nDisallow: /private/\n", "text/plain")
        if path == "/polite.rss":
            return self._send(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>'
                                   f'<item><guid>p</guid><link>{base}/private/6</link></item></channel></rss>',
                              "application/rss+xml")
        if path == "/slow.rss":
            items = "".join(f"<item><guid>s{n}</guid><link>{base}/slow/{n}</link></item>" for n in range(6))
            return self._send(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>'
                                   f"{items}</channel></rss>", "application/rss+xml")
        if path.startswith("/slow/"):
            time.sleep(0.5)
            lead = f"Story {path[6:]} of the slow feed says the Ostry council met for the {path[6:]}th time."
            return self._send(200, STORY.format(title=f"Slow {path[6:]}", lead=lead, canonical=base + path),
                              "text/html")
        if path == "/real.rss":
            items = "".join(f"<item><guid>r{n}</guid><link>{base}/real/{n}</link></item>" for n in range(len(REAL)))
            return self._send(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Real</title>'
                                   f"{items}</channel></rss>", "application/rss+xml")
        if path.startswith("/real/"):
            return self._send(200, REAL[int(path[6:])]["html"], "text/html")
        if path == "/site.html":
            return self._send(200, '<html><head><link rel="alternate" type="application/atom+xml" '
                                   'href="/atom.xml"></head><body>Herald</body></html>', "text/html")
        if path in HOSTILE:
            return self._send(200, HOSTILE[path].replace("{base}", base), "application/xml")
        if path == "/not-xml.xml":
            return self._send(200, "this is { not xml", "application/xml")
        if path == "/not-a-feed.xml":
            return self._send(200, "<?xml version='1.0'?><catalog><book>x</book></catalog>", "application/xml")
        self._send(404, "not found", "text/plain")

    def _send(self, status: int, body: str, kind: str, headers: dict | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for key, value in {"Content-Type": kind, "Content-Length": str(len(data)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002
        """Stay quiet."""


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads, server.hits = True, []
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def follow(root, encoder, *urls: str) -> None:
    """Follow feeds the way `feeds add` does, in one commit."""
    import datetime as dt

    states = [FeedState(url=u, added=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)) for u in urls]
    commit_feeds(root, encoder, save=states)


def stored_articles(root) -> dict:
    with committed_db(root) as db:
        return {row[0]: row[1:] for row in db.execute("SELECT id, title, source, date, origin FROM articles")}


def read_states_at_commit(root) -> FeedState:
    """The one followed feed's state as committed in the index (without the status file's latest fetch)."""
    with committed_db(root) as db:
        [state] = load_states(db).values()
    return state


def updater(root, encoder, **config):
    return FeedUpdater(root, encoder, allow_private=True, timeout=10, delay=0, **config)


def test_rss_and_atom_items_become_one_article_per_story(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/feed.rss"), site.url("/atom.xml"))
    report = updater(root, encoder).run()
    assert report.count("fetched") == 2 and report.as_json()["items_new"] == 6
    articles = stored_articles(root)
    # story 1 comes from both feeds (the Atom link has a tracking query; the page's canonical link unites them)
    assert set(articles) == {site.url(p) for p in ("/story/1", "/story/2", "/story/3", "/story/5")}
    assert articles[site.url("/story/2")][1] == "Coast Wire"  # the feed's title is the source
    assert articles[site.url("/story/2")][2] == "2026-11-03"  # no date on the page: the item's
    assert articles[site.url("/story/3")][0] == "Water main bursts"  # page 404: the item's full content
    assert all(origin.startswith("feed:") for *_, origin in articles.values())
    assert {s["url"] for s in report.skipped} == {site.url("/story/4")}  # 404 and only a teaser: retried later
    states = read_states(root)
    assert [f.link for f in states[site.url("/feed.rss")].failing.values()] == [site.url("/story/4")]


def test_a_second_run_costs_a_304_per_feed_and_fetches_no_pages(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/feed.rss"))
    updater(root, encoder).run()
    generation = store.current_generation(root)
    hits = len(site.hits)
    report = updater(root, encoder).run()
    assert report.count("not modified") == 1 and not report.added
    assert site.hits[hits:] == ["/robots.txt", "/feed.rss"]  # the failing item is not due yet
    assert store.current_generation(root) == generation  # nothing changed: no new generation is written
    state = read_states(root)[site.url("/feed.rss")]
    assert state.last_status == 304 and state.last_fetch > read_states_at_commit(root).last_fetch


def test_an_item_that_keeps_failing_is_dropped_and_reported(tmp_path, encoder, site):
    import datetime as dt

    root = tmp_path / "index"
    follow(root, encoder, site.url("/feed.rss"))
    clock = [dt.datetime(2026, 11, 5, tzinfo=dt.timezone.utc)]
    run = updater(root, encoder, clock=lambda: clock[0])
    for _ in range(MAX_TRIES):
        run.run()
        clock[0] += dt.timedelta(days=1)
    state = read_states(root)[site.url("/feed.rss")]
    assert state.dropped == [site.url("/story/4")] and not state.failing
    assert state.articles_indexed == 3


@pytest.mark.parametrize("path, words", [("/not-xml.xml", "not an RSS or Atom feed"),
                                         ("/not-a-feed.xml", "not an RSS or Atom feed"),
                                         ("/gone.xml", "HTTP 404")])
def test_a_broken_feed_is_reported_and_the_others_still_update(tmp_path, encoder, site, path, words):
    root = tmp_path / "index"
    follow(root, encoder, site.url(path), site.url("/atom.xml"))
    report = updater(root, encoder).run()
    [failed] = report.as_json()["failed"]
    assert failed["url"] == site.url(path) and words in failed["error"]
    assert site.url("/story/5") in stored_articles(root)
    assert words in read_states(root)[site.url(path)].last_error


@pytest.mark.parametrize("path", ["/xxe.xml", "/bomb.xml"])
def test_hostile_feeds_resolve_no_entities(site, path):
    import httpx

    body = httpx.get(site.url(path)).content
    try:
        parsed = parse_feed(body, site.url(path))
    except FetchError:
        return  # refused outright is fine too
    text = json.dumps(parsed.model_dump())
    assert "root:" not in text and "aaaaaaaaaaaaaaaaaaaa" not in text


def test_feeds_and_items_at_private_addresses_are_refused_by_default(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/atom.xml"))
    report = FeedUpdater(root, encoder, allow_private=False, timeout=10, delay=0).run()
    assert report.count("failed") == 1 and "non-public address" in report.feeds[0].error


def test_a_page_that_advertises_its_feed_is_followed_by_the_feed(site):
    url, parsed = resolve_feed(site.url("/site.html"), allow_private=True, max_bytes=2**20, timeout=10)
    assert url == site.url("/atom.xml") and parsed.title == "Herald" and len(parsed.items) == 2
    with pytest.raises(FetchError, match="advertises no RSS or Atom feed"):
        resolve_feed(site.url("/story/1"), allow_private=True, max_bytes=2**20, timeout=10)


def test_the_feeds_commands_end_to_end(tmp_path, site):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "NEWSDESK_ALLOW_PRIVATE_URLS": "1", "NEWSDESK_FEED_DELAY": "0",
           "NEWSDESK_INDEX": str(tmp_path / "index"), "HOME": str(tmp_path)}

    def newsdesk(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*NEWSDESK, *args], capture_output=True, text=True, env=env, timeout=300)

    added = newsdesk("feeds", "add", site.url("/site.html"), "--name", "The Herald", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"url": site.url("/atom.xml"), "source": "The Herald", "items": 2}
    update = newsdesk("update", "--json")
    assert update.returncode == 0, update.stderr
    summary = json.loads(update.stdout)
    assert summary["fetched"] == 1 and sorted(summary["added"]) == [site.url("/story/1"), site.url("/story/5")]
    [row] = json.loads(newsdesk("feeds", "list", "--json").stdout)
    assert row["name"] == "The Herald" and row["articles_indexed"] == 2 and row["last_status"] == 200
    asked = newsdesk("ask", "--json", "when will the library open on sundays?")
    citation = json.loads(asked.stdout)["sentences"][0]["citation"]
    assert citation["source"] == "The Herald" and citation["url"] == site.url("/story/5")
    assert newsdesk("feeds", "remove", "The Herald").returncode == 0
    assert json.loads(newsdesk("feeds", "list", "--json").stdout) == []
    assert json.loads(newsdesk("update", "--json").stdout)["feeds"] == 0


def test_robots_txt_is_honoured(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/polite.rss"))
    report = updater(root, encoder).run()
    assert [s["reason"] for s in report.skipped] == [
        f"{site.url('')}/robots.txt does not allow newsdesk to fetch {site.url('/private/6')}"]
    assert "/private/6" not in site.hits


def test_retention_removes_old_feed_articles_and_never_hand_indexed_ones(tmp_path, encoder, site):
    import datetime as dt

    from embeddings.models import Article

    root = tmp_path / "index"
    follow(root, encoder, site.url("/feed.rss"))
    by_hand = Article(id="by-hand", title="Old", text="The harbour wall was built in 1890 by local masons.",
                      date=dt.date(2020, 1, 1), origin=str(tmp_path / "by-hand.txt"))
    Indexer(root, encoder, show_progress=False).run([by_hand])
    updater(root, encoder).run()
    assert len(stored_articles(root)) == 4
    later = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    report = updater(root, encoder, keep_days=7, clock=lambda: later).run()
    assert sorted(report.removed) == [site.url(p) for p in ("/story/1", "/story/2", "/story/3")]
    assert set(stored_articles(root)) == {"by-hand"}


def test_update_every_runs_until_sigterm_and_exits_cleanly(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/atom.xml"))
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "NEWSDESK_ALLOW_PRIVATE_URLS": "1",
           "NEWSDESK_FEED_DELAY": "0", "NEWSDESK_BACKEND": encoder.backend, "HOME": str(tmp_path)}
    process = subprocess.Popen([*NEWSDESK, "update", "--index", str(root), "--every", "1s", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        runs = [json.loads(process.stdout.readline()) for _ in range(2)]
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(timeout=60) == 0, process.stderr.read()
        assert time.monotonic() - started < 30
    finally:
        process.kill()
    assert len(runs[0]["added"]) == 2 and runs[1]["not_modified"] == 1 and runs[1]["added"] == []


def test_update_killed_mid_run_loses_and_doubles_nothing(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/slow.rss"))
    before = store.current_generation(root)
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "NEWSDESK_ALLOW_PRIVATE_URLS": "1",
           "NEWSDESK_FEED_DELAY": "0", "NEWSDESK_BACKEND": encoder.backend, "HOME": str(tmp_path)}
    hits = len(site.hits)
    process = subprocess.Popen([*NEWSDESK, "update", "--index", str(root)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(h.startswith("/slow/2") for h in site.hits[hits:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert store.current_generation(root) == before  # the old index, whole
    assert read_states(root)[site.url("/slow.rss")].seen == []
    first = updater(root, encoder).run()
    assert len(first.added) == 6 and len(stored_articles(root)) == 6
    again = updater(root, encoder).run()
    assert again.as_json()["items_new"] == 0 and not again.added and len(stored_articles(root)) == 6


def test_real_news_pages_from_a_feed_are_indexed_and_answered_from(tmp_path, encoder, site):
    from retrieval.pipeline import Pipeline

    require_shared(SHARED / "data" / "html" / "article_extraction_benchmark")
    root = tmp_path / "index"
    follow(root, encoder, site.url("/real.rss"))
    report = updater(root, encoder).run()
    assert len(report.added) == len(REAL), report.skipped
    pipeline = Pipeline(root, encoder, time_aware=False)  # "this month" in a 2019 story's words is not a filter
    for page in REAL:
        first = re.split(r"(?<=[.!?])\s", page["expected_text"].strip())[0]  # the story's first sentence
        answer = pipeline.ask(first)
        assert answer.answered and answer.sentences[0].text in first
        assert answer.sentences[0].citation.source == "Real"


def test_items_past_the_per_run_cap_are_taken_by_the_next_run(tmp_path, encoder, site):
    root = tmp_path / "index"
    follow(root, encoder, site.url("/feed.rss"))
    first = updater(root, encoder, per_feed=2).run()
    assert first.feeds[0].new_items == 2 and read_states(root)[site.url("/feed.rss")].backlog
    second = updater(root, encoder, per_feed=2).run()  # the feed is unchanged, but its rest is not yet read
    assert second.feeds[0].status == "fetched" and second.feeds[0].new_items == 2
    third = updater(root, encoder, per_feed=2).run()
    assert third.feeds[0].status == "not modified"


def test_items_at_or_redirecting_to_loopback_are_refused_from_a_public_feed(tmp_path, encoder, site, monkeypatch):
    """The feed's host resolves to a public address (HTTP through the test site as a proxy); its items point
    at 127.0.0.1, directly or by a redirect: neither page is fetched."""
    import socket

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: (
        [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC_ADDRESS, 80))]
        if host == PUBLIC_HOST else real(host, *a, **k)))
    monkeypatch.setenv("HTTP_PROXY", site.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    root = tmp_path / "index"
    follow(root, encoder, f"http://{PUBLIC_HOST}/public.rss")
    hits = len(site.hits)
    report = FeedUpdater(root, encoder, allow_private=False, timeout=10, delay=0).run()
    assert report.count("fetched") == 1 and not report.added
    reasons = sorted(s["reason"] for s in report.skipped)
    assert all("127.0.0.1 resolves to a non-public address" in r for r in reasons) and len(reasons) == 2
    assert not any(h.endswith(("/story/1", "/story/2")) for h in site.hits[hits:])
