"""Feed updates: a first `newsdesk update` over local feeds, an update in which nothing changed, and a plain add.

    python scripts/bench_feeds.py [--feeds 20] [--items 50] [--per-feed N] [--backend onnx|onnx-int8|torch]
                                  [--data DIR] [--json]

A local site on 127.0.0.1 serves F RSS and Atom feeds (alternately) of N items each, every item linking
to its own story page (paragraphs of sentences drawn from the BBC articles in ../shared/data/, else
generated), a robots.txt, and ETag/Last-Modified validators that get a 304 when they match. In a
scratch index following the feeds: the first FeedUpdater run (F×N new articles: seconds in all and per
article), the same run again with nothing changed (all 304; target < 1 s for 20 feeds; it must write no new
generation), and `newsdesk add` (bot.wiring.add_url) of fresh pages one by one.
The politeness delay is 0 here; in production it is 1 s between requests to one site, and every feed
here is on one site, so a real run would be paced by it (the "paced at least" column).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import random
import re
import tempfile
import threading
import time
from collections import Counter
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _bench

from bot.settings import Settings
from bot.wiring import add_url
from embeddings.encoder import BACKENDS, DEFAULT_BACKEND, make_encoder
from embeddings.storage import store
from embeddings.feed_update import FeedUpdater, commit_feeds
from embeddings.feeds import FeedState

UNCHANGED_TARGET_S = 1.0  # for 20 unchanged feeds (the target), scaled to --feeds
PRODUCTION_DELAY_S = 1.0  # Settings.feed_delay: the pause between two requests to one site
UNCHANGED_RUNS = 3
FRESH_PAGES = 5
PUBLISHED = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.timezone.utc)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


# ---- the text the story pages are made of ----

def corpus_text(data: Path) -> tuple[list[str], list[str]]:
    """(sentences, titles) of the BBC articles, or generated ones when the evaluation data is absent."""
    files = sorted((data / "articles").glob("bbc_news_2225.part*.jsonl"))
    articles = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
    sentences = [s for a in articles for s in SENTENCE_END.split(a["text"].replace("\n", " ")) if 40 <= len(s) <= 300]
    if not sentences:
        return generated_text()
    return sentences, [a["title"] for a in articles if a.get("title")]


def generated_text() -> tuple[list[str], list[str]]:
    """Sentences and titles made from a few templates: varied enough that no two pages are alike."""
    rng = random.Random(0)
    places = ["Harrowgate Bay", "Millbrook", "Pemberton", "Saltings Point", "Eastmere", "Dunley", "Ostry", "Fennick"]
    bodies = ["the regional council", "the water board", "the port authority", "the university", "local traders"]
    acts = ["approved a plan to expand", "delayed the opening of", "asked for more money for", "began work on",
            "published a report on", "voted against closing"]
    things = ["the tram line", "the harbour wall", "the library", "two primary schools", "the ferry terminal"]
    sentences = [f"On {rng.choice(['Monday', 'Tuesday', 'Friday'])} {rng.choice(bodies)} in {rng.choice(places)} "
                 f"{rng.choice(acts)} {rng.choice(things)}, at a cost of {rng.randint(2, 900)} million, "
                 f"{rng.choice(['officials said', 'a spokesperson confirmed', 'residents were told'])}."
                 for _ in range(5000)]
    titles = [f"{rng.choice(places)}: {rng.choice(bodies)} {rng.choice(acts).split(' ', 1)[0]} "
              f"{rng.choice(things)}" for _ in range(500)]
    return sentences, titles


def story(url: str, key: str, sentences: list[str], titles: list[str]) -> tuple[str, str, bytes]:
    """(title, date, HTML) of one story page: 5-8 paragraphs of 2-4 sentences, chosen by its key."""
    rng = random.Random(key)
    title = rng.choice(titles)
    date = (PUBLISHED - dt.timedelta(hours=rng.randint(0, 72))).date().isoformat()
    paragraphs = "".join(f"<p>{html.escape(' '.join(rng.sample(sentences, rng.randint(2, 4))))}</p>\n"
                         for _ in range(rng.randint(5, 8)))
    page = (f'<html><head><title>{html.escape(title)}</title><link rel="canonical" href="{url}">'
            f'<meta property="article:published_time" content="{date}"></head><body>'
            f'<nav><a href="/">Home</a> <a href="/world">World</a></nav><article><h1>{html.escape(title)}</h1>'
            f'<p class="byline">By Staff Reporter, <time datetime="{date}">{date}</time></p>\n{paragraphs}'
            f"</article><footer>© Local Wire</footer></body></html>")
    return title, date, page.encode()


# ---- the local site: feeds, story pages, robots.txt ----

class Site(ThreadingHTTPServer):
    """A news site on 127.0.0.1 serving pre-rendered documents by path; counts its answers by status."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.documents: dict[str, tuple[bytes, str, dict[str, str]]] = {}  # path → (body, type, validators)
        self.answers: Counter = Counter()
        self.feed_urls: list[str] = []
        self.fresh_urls: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    """GET of a document: 200, 304 when the feed's validators match, else 404."""

    def do_GET(self):  # noqa: N802
        body, kind, validators = self.server.documents.get(self.path, (b"not found", "text/plain", None))
        status = 404 if validators is None else 304 if self._unchanged(validators) else 200
        self.server.answers[status] += 1
        self.send_response(status)
        for key, value in {"Content-Type": kind, **(validators or {})}.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _unchanged(self, validators: dict[str, str]) -> bool:
        """A conditional GET that matches (If-None-Match decides when sent, RFC 9110 13.2.2)."""
        if "ETag" not in validators:
            return False
        if (tag := self.headers.get("If-None-Match")) is not None:
            return tag == validators["ETag"]
        return self.headers.get("If-Modified-Since") == validators["Last-Modified"]

    def log_message(self, format, *args):  # noqa: A002
        """Stay quiet."""


def feed_xml(number: int, entries: list[tuple[str, str, str]], atom: bool) -> bytes:
    """Feed `number` as RSS 2.0 or Atom, listing (link, title, ISO date) entries with a teaser each."""
    name = f"Local Wire {number}"
    if atom:
        body = "".join(f"<entry><id>{link}</id><title>{html.escape(title)}</title><link href='{link}'/>"
                       f"<updated>{date}T08:00:00Z</updated><summary>{html.escape(title)}.</summary></entry>"
                       for link, title, date in entries)
        return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{name}</title>{body}'
                "</feed>").encode()
    body = "".join(f"<item><guid>{link}</guid><title>{html.escape(title)}</title><link>{link}</link><pubDate>"
                   f"{format_datetime(dt.datetime.fromisoformat(date + 'T08:00:00+00:00'), usegmt=True)}</pubDate>"
                   f"<description>{html.escape(title)}.</description></item>" for link, title, date in entries)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{body}</channel></rss>'.encode()


def start_site(feeds: int, items: int, text: tuple[list[str], list[str]]) -> Site:
    """The site, serving in a daemon thread: `feeds` feeds of `items` stories, FRESH_PAGES stories in no feed."""
    site = Site()
    page = "text/html; charset=utf-8"
    site.documents["/robots.txt"] = (b"User-agent: *\nDisallow: /private/\n", "text/plain", {})
    for number in range(feeds):
        entries = []
        for item in range(items):
            path = f"/news/{number}/{item}"
            title, date, body = story(site.base + path, path, *text)
            site.documents[path] = (body, page, {})
            entries.append((site.base + path, title, date))
        atom = number % 2 == 1
        path = f"/feeds/{number}.{'atom' if atom else 'rss'}"
        validators = {"ETag": f'"feed-{number}-v1"', "Last-Modified": format_datetime(PUBLISHED, usegmt=True)}
        site.documents[path] = (feed_xml(number, entries, atom), f"application/{'atom' if atom else 'rss'}+xml",
                                validators)
        site.feed_urls.append(site.base + path)
    for item in range(FRESH_PAGES):
        path = f"/extra/{item}"
        site.documents[path] = (story(site.base + path, path, *text)[2], page, {})
        site.fresh_urls.append(site.base + path)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


# ---- the runs ----

class TimedEncoder:
    """The encoder, adding up the seconds spent in `encode`: the model's share of a run."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def encode(self, texts, progress=None):
        began = time.perf_counter()
        try:
            return self.inner.encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - began


def follow(root: Path, encoder, urls: list[str]) -> None:
    """Follow the feeds as `newsdesk feeds add` does (their state saved in one commit), without fetching them."""
    added = dt.datetime.now(dt.timezone.utc)
    states = [FeedState(url=url, added=added) for url in urls]
    commit_feeds(root, encoder, save=states)


def measured(fn, encoder: TimedEncoder, site: Site) -> dict:
    """One call of `fn`: its seconds, the model's share of them, the site's answers by status, its result."""
    encoder.seconds = 0.0
    site.answers.clear()
    seconds, result = _bench.timed(fn)
    return {"seconds": seconds, "model_s": encoder.seconds, "answers": dict(site.answers), "result": result}


def row(name: str, runs: list[dict], articles: int, paced: bool) -> dict:
    """A table row from the median run (by seconds; `runs` is odd in number). `paced`: a FeedUpdater run,
    which in production waits PRODUCTION_DELAY_S before each request to the site after its first."""
    run = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    requests = sum(run["answers"].values())
    return {"run": name, "seconds": run["seconds"], "articles": articles,
            "s/article": run["seconds"] / articles if articles else None, "model s": run["model_s"],
            "requests": ", ".join(f"{n}×{status}" for status, n in sorted(run["answers"].items())) or "none",
            "paced at least s": (requests - 1) * PRODUCTION_DELAY_S if paced else None}


def measure(root: Path, encoder: TimedEncoder, site: Site, backend: str, per_feed: int) -> tuple[list[dict], dict]:
    """Follow the feeds in a new index at `root`, then time the updates and plain adds."""
    follow(root, encoder, site.feed_urls)
    updater = FeedUpdater(root, encoder, allow_private=True, delay=0, per_feed=per_feed)
    first = measured(updater.run, encoder, site)
    generation = store.current_generation(root)
    unchanged = [measured(updater.run, encoder, site) for _ in range(UNCHANGED_RUNS)]
    rewritten = store.current_generation(root) != generation
    settings = Settings(index=root, backend=backend, allow_private_urls=True)
    adds = [measured(lambda url=url: add_url(url, settings, encoder), encoder, site) for url in site.fresh_urls]
    report = first["result"]
    new_items = report.as_json()["items_new"]
    rows = [row(f"first update ({len(site.feed_urls)} feeds, {new_items} new items)", [first], len(report.added), True),
            row(f"unchanged update (median of {UNCHANGED_RUNS})", unchanged, 0, True),
            row(f"plain `newsdesk add` of one page (median of {len(adds)})", adds, 1, False)]
    unchanged_s = rows[1]["seconds"]
    target = UNCHANGED_TARGET_S * len(site.feed_urls) / 20
    facts = {"new_articles": len(report.added), "skipped": len(report.skipped),
             "unchanged_not_modified": min(run["result"].count("not modified") for run in unchanged),
             "unchanged_target_s": f"< {target:g}", "unchanged_met": unchanged_s < target,
             "unchanged_wrote_a_generation": rewritten,
             "update_vs_add_per_article": round(rows[0]["s/article"] / rows[2]["seconds"], 3) if report.added else None,
             "politeness_delay_s": 0, "production_delay_s": PRODUCTION_DELAY_S}
    if report.skipped:
        facts["first_skip"] = report.skipped[0]
    return rows, facts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--feeds", type=int, default=20, help="feeds on the local site (default 20)")
    p.add_argument("--items", type=int, default=50, help="items in each feed, each its own story (default 50)")
    p.add_argument("--per-feed", type=int, help="FeedUpdater's per_feed (default: --items, so all are new at once; "
                                                "`newsdesk update` defaults to 20)")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help="embedding backend")
    p.add_argument("--data", type=Path, default=_bench.DATA, help=f"evaluation data folder (default {_bench.DATA})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args()
    if args.feeds < 1 or args.items < 1:
        p.error("--feeds and --items must be at least 1")
    encoder = TimedEncoder(make_encoder(args.backend))
    encoder.load()
    began = time.perf_counter()
    site = start_site(args.feeds, args.items, corpus_text(args.data))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-feeds-") as scratch:
            rows, facts = measure(Path(scratch) / "index", encoder, site, args.backend, args.per_feed or args.items)
    finally:
        site.shutdown()
        site.server_close()
    _bench.emit("bench_feeds", rows, args.json, backend=args.backend, feeds=args.feeds, items_per_feed=args.items,
                per_feed=args.per_feed or args.items, **facts, wall_s=round(time.perf_counter() - began, 1))


if __name__ == "__main__":
    main()
