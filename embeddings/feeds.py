"""RSS and Atom feeds: what newsdesk remembers of each (validators, items seen, failures), finding a site's
feed, and reading one with feedparser. The state lives in the index, committed with the articles."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, Field

from embeddings.fetch import HTML_KINDS, FetchError, get

FEED_KINDS = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
              "text/xml", "application/x-rss+xml")
ADVERTISED = ("application/rss+xml", "application/atom+xml")
MAX_SEEN = 5000  # item keys remembered per feed: far more than any feed lists at once


class ItemFailure(BaseModel):
    """A new item whose article could not be had yet; retried later, with growing delay, then dropped."""

    link: str
    title: str = ""
    tries: int = 0
    next_try: dt.datetime
    error: str


class FeedState(BaseModel):
    """One followed feed, as `feeds list` shows it and `update` needs it."""

    url: str
    name: str | None = None
    title: str | None = None
    added: dt.datetime
    last_fetch: dt.datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    etag: str | None = None
    modified: str | None = None
    items_seen: int = 0
    articles_indexed: int = 0
    seen: list[str] = Field(default_factory=list, description="keys (GUID, else link) of items handled")
    failing: dict[str, ItemFailure] = Field(default_factory=dict)
    dropped: list[str] = Field(default_factory=list, description="items given up after repeated failures")
    backlog: bool = Field(False, description="new items were left for the next run (past the per-run cap)")

    @property
    def source(self) -> str:
        """What its articles' `source` says: --name, else the feed's own title, else its host."""
        return self.name or self.title or urlsplit(self.url).hostname or self.url

    def conditional_headers(self) -> dict[str, str]:
        """If-None-Match / If-Modified-Since from the last answer, so an unchanged feed costs a 304; none while
        a backlog of items waits (a 304 would hide them)."""
        headers = {}
        if self.backlog:
            return headers
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.modified:
            headers["If-Modified-Since"] = self.modified
        return headers

    def durable(self) -> str:
        """What must be committed with the articles: everything but the last fetch's time and answer."""
        return self.model_dump_json(exclude=set(VOLATILE))

    def remember(self, key: str) -> None:
        self.seen.append(key)
        del self.seen[:-MAX_SEEN]


# When a feed was last fetched and how it answered: shown by `feeds list`, kept beside the index (not in a
# commit) so that a run in which nothing changed writes no new generation.
VOLATILE = frozenset({"last_fetch", "last_status", "last_error"})


class FeedItem(BaseModel):
    """One entry of a feed: its key (GUID, else link), link, title, date and any full content (HTML)."""

    key: str
    link: str
    title: str = ""
    published: dt.date | None = None
    content: str | None = None


class ParsedFeed(BaseModel):
    title: str | None = None
    items: list[FeedItem]


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    """RSS 0.9x/1.0/2.0 or Atom → items; FetchError when the bytes are not a feed. External entities and
    entity expansion are never resolved: feedparser refuses DOCTYPE entities and falls back to its loose parser."""
    import feedparser

    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=True, response_headers={
        "content-location": url})
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        raise FetchError(f"{url} is not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    items = [item for item in (_item(entry, url) for entry in parsed.entries) if item is not None]
    return ParsedFeed(title=(parsed.feed.get("title") or "").strip() or None, items=items)


def _item(entry, feed_url: str) -> FeedItem | None:
    """A feedparser entry as a FeedItem; None without a link (nothing to fetch or cite)."""
    link = (entry.get("link") or "").strip()
    if not link:
        return None
    link = urljoin(feed_url, link)
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    content = entry.get("content") or []
    html = content[0].get("value") if content else entry.get("summary")
    return FeedItem(key=(entry.get("id") or link).strip(), link=link, title=(entry.get("title") or "").strip(),
                    published=dt.date(*stamp[:3]) if stamp else None, content=html or None)


def discover(url: str, body: bytes) -> str | None:
    """The feed a web page advertises with <link rel="alternate" type="application/rss+xml|atom+xml">."""
    import lxml.html

    try:
        page = lxml.html.fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return None
    for link in page.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and (link.get("type") or "").lower() in ADVERTISED and link.get("href"):
            return urljoin(url, link.get("href"))
    return None


def resolve_feed(url: str, *, allow_private: bool, max_bytes: int, timeout: float) -> tuple[str, ParsedFeed]:
    """The feed at `url`, or the one the page at `url` advertises: (feed URL, its contents)."""
    response = get(url, allow_private=allow_private, max_bytes=max_bytes, timeout=timeout,
                   kinds=FEED_KINDS + HTML_KINDS)
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in HTML_KINDS:
        found = discover(response.url, response.body)
        if found is None:
            raise FetchError(f"{url} is a web page that advertises no RSS or Atom feed")
        response = get(found, allow_private=allow_private, max_bytes=max_bytes, timeout=timeout, kinds=FEED_KINDS)
    return response.url, parse_feed(response.body, response.url)


# ---- stored in the index database, inside the same commit as the articles ----

def load_states(db: sqlite3.Connection) -> dict[str, FeedState]:
    """Every followed feed by URL (none in an index made before feeds existed)."""
    try:
        rows = db.execute("SELECT url, state FROM feeds ORDER BY url").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {url: FeedState.model_validate(json.loads(state)) for url, state in rows}


def save_state(db: sqlite3.Connection, state: FeedState) -> None:
    db.execute("INSERT OR REPLACE INTO feeds(url, state) VALUES (?, ?)", (state.url, state.model_dump_json()))


def delete_state(db: sqlite3.Connection, url: str) -> None:
    db.execute("DELETE FROM feeds WHERE url = ?", (url,))
