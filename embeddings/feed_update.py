"""Followed feeds → new articles in the index: each feed fetched once (conditionally), each new item's page
fetched like `add`, and every article and feed state of the run committed as one generation."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.encoder import Encoder
from embeddings.feeds import (FEED_KINDS, VOLATILE, FeedItem, FeedState, ItemFailure, delete_state, load_states,
                              parse_feed, save_state)
from embeddings.fetch import FetchError, check_url, fetch_article, get
from embeddings.storage.reader import committed_db
from embeddings.storage.writer import IndexWriter
from embeddings.indexer import Indexer
from embeddings.models import Article
from embeddings.politeness import Politeness
from embeddings.storage import database, store

MAX_TRIES = 4  # an item whose article cannot be had is dropped after this many runs
RETRY_AFTER = dt.timedelta(minutes=15)  # doubled after each failure


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class FeedRun:
    """What one feed did in a run: fetched (with new items), not modified, or failed (why)."""

    url: str
    status: str
    new_items: int = 0
    error: str | None = None


@dataclass
class UpdateReport:
    """One `newsdesk update` run, for its summary line and `--json`."""

    feeds: list[FeedRun] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    generation: str | None = None

    def count(self, status: str) -> int:
        return sum(run.status == status for run in self.feeds)

    def as_json(self) -> dict:
        return {"feeds": len(self.feeds), "fetched": self.count("fetched"), "not_modified": self.count("not modified"),
                "failed": [{"url": r.url, "error": r.error} for r in self.feeds if r.status == "failed"],
                "items_new": sum(r.new_items for r in self.feeds), "added": self.added, "updated": self.updated,
                "removed": self.removed, "skipped": self.skipped, "generation": self.generation}

    def summary(self) -> str:
        return (f"{len(self.feeds)} feeds: {self.count('fetched')} fetched, {self.count('not modified')} not modified, "
                f"{self.count('failed')} failed; {sum(r.new_items for r in self.feeds)} new items, "
                f"{len(self.added)} articles added, {len(self.updated)} updated, {len(self.removed)} past retention removed, "
                f"{len(self.skipped)} skipped")


STATUS_FILE = "feeds-status.json"


def read_states(root: Path) -> dict[str, FeedState]:
    """The feeds the committed index follows (none without an index), with their latest fetch's status."""
    with committed_db(root) as db:
        states = load_states(db) if db is not None else {}
    path = root / STATUS_FILE
    latest = json.loads(path.read_text()) if path.exists() else {}
    for url, state in states.items():
        fetched = FeedState.model_validate({**state.model_dump(), **latest.get(url, {})})
        if fetched.last_fetch and (state.last_fetch is None or fetched.last_fetch > state.last_fetch):
            states[url] = fetched
    return states


def commit_feeds(root: Path, encoder: Encoder, save: Iterable[FeedState] = (), remove: Iterable[str] = ()) -> None:
    """Follow feeds (`save` their states) or stop following them (`remove` by URL), as a commit of its own."""
    def change(writer: IndexWriter) -> None:
        for state in save:
            save_state(writer.db, state)
        for url in remove:
            delete_state(writer.db, url)

    Indexer(root, encoder, show_progress=False).run([], also=change)


def _write_status(root: Path, states: dict[str, FeedState]) -> None:
    status = {url: s.model_dump(mode="json", include=set(VOLATILE)) for url, s in states.items()}
    store.write_atomically(root / STATUS_FILE, json.dumps(status, indent=1))


class FeedUpdater:
    """Fetch every followed feed once and index what is new; constructor arguments are the config."""

    def __init__(self, root: Path, encoder: Encoder, *, allow_private: bool = False, max_bytes: int = 5 * 2**20,
                 timeout: float = 20.0, per_feed: int = 20, keep_days: int | None = None, delay: float = 1.0,
                 clock: Callable[[], dt.datetime] = now_utc):
        self.root, self.encoder = Path(root), encoder
        self.allow_private, self.max_bytes, self.timeout = allow_private, max_bytes, timeout
        self.per_feed, self.keep_days, self.delay, self.clock = per_feed, keep_days, delay, clock

    def run(self) -> UpdateReport:
        """One pass over the feeds, then one commit of the new articles, the feeds' new state and the
        retirement of feed articles past `keep_days`."""
        states, report, articles = read_states(self.root), UpdateReport(), []
        before = {url: state.durable() for url, state in states.items()}
        self.polite = Politeness(allow_private=self.allow_private, timeout=self.timeout, delay=self.delay)
        for state in states.values():
            report.feeds.append(self._poll(state, articles, report))
        unique: dict[str, Article] = {}
        for article in articles:  # the same story from two feeds (its URL) is one article, the first one read
            unique.setdefault(article.id, article)
        changed = any(state.durable() != before[url] for url, state in states.items())
        if unique or changed or self._retirement_due():
            self._commit(list(unique.values()), states, report)
        if states:
            _write_status(self.root, states)
        return report

    def _commit(self, articles: list[Article], states: dict[str, FeedState], report: UpdateReport) -> None:
        """The run's articles, feed states and retirements as one generation."""
        def also(writer: IndexWriter) -> None:
            _save(writer, states)
            report.removed = self._retire(writer)

        indexed = Indexer(self.root, self.encoder, show_progress=False).run(articles, also=also)
        report.added, report.updated, report.generation = indexed.added, indexed.updated, indexed.generation
        report.skipped += [{"url": p.path, "reason": p.reason} for p in indexed.problems]

    def _cutoff(self) -> dt.date | None:
        return (self.clock() - dt.timedelta(days=self.keep_days)).date() if self.keep_days is not None else None

    def _retirement_due(self) -> bool:
        """Whether the committed index holds feed articles past `keep_days` (a read, no lock needed)."""
        cutoff = self._cutoff()
        if cutoff is None:
            return False
        with committed_db(self.root) as db:
            return db is not None and bool(database.feed_articles_before(db, cutoff))

    def _retire(self, writer: IndexWriter) -> list[str]:
        """Remove feed articles dated more than `keep_days` ago (never those indexed by hand)."""
        cutoff = self._cutoff()
        if cutoff is None:
            return []
        old = database.feed_articles_before(writer.db, cutoff)
        for article_id in old:
            writer.remove(article_id)
        return old

    def _poll(self, state: FeedState, articles: list[Article], report: UpdateReport) -> FeedRun:
        """Fetch one feed (conditionally) and the articles of its new and due items into `articles`."""
        state.last_fetch = self.clock()
        try:
            check_url(state.url, self.allow_private)
            self.polite.before(state.url)
            response = get(state.url, allow_private=self.allow_private, max_bytes=self.max_bytes,
                           timeout=self.timeout, headers=state.conditional_headers(), kinds=FEED_KINDS)
            parsed = parse_feed(response.body, response.url) if response.status == 200 else None
        except FetchError as exc:
            state.last_error = str(exc)
            return FeedRun(state.url, "failed", error=state.last_error)
        state.last_status, state.last_error = response.status, None
        state.etag = response.headers.get("etag") or state.etag
        state.modified = response.headers.get("last-modified") or state.modified
        new = []
        if parsed is not None:
            state.title = parsed.title or state.title
            known = set(state.seen) | set(state.failing)
            unseen = [item for item in parsed.items if item.key not in known]
            new, state.backlog = unseen[: self.per_feed], len(unseen) > self.per_feed
            state.items_seen += len(new)
        due = [FeedItem(key=k, link=f.link, title=f.title) for k, f in state.failing.items()
               if f.next_try <= state.last_fetch]
        for item in new + due:
            self._take(state, item, articles, report)
        return FeedRun(state.url, "fetched" if parsed is not None else "not modified", new_items=len(new))

    def _take(self, state: FeedState, item: FeedItem, articles: list[Article], report: UpdateReport) -> None:
        """Add one item's article, or note why not: refused at once, or retried later until MAX_TRIES."""
        try:
            check_url(item.link, self.allow_private)
            self.polite.before(item.link)
        except FetchError as exc:
            report.skipped.append({"url": item.link, "reason": str(exc)})
            state.remember(item.key)
            return
        try:
            articles.append(self._article(state, item))
        except FetchError as exc:
            failure = state.failing.get(item.key) or ItemFailure(link=item.link, title=item.title,
                                                                 next_try=state.last_fetch, error=str(exc))
            failure.tries, failure.error = failure.tries + 1, str(exc)
            failure.next_try = state.last_fetch + RETRY_AFTER * 2 ** (failure.tries - 1)
            state.failing[item.key] = failure
            if failure.tries >= MAX_TRIES:
                state.dropped.append(item.link)
                del state.failing[item.key]
                state.remember(item.key)
            report.skipped.append({"url": item.link, "reason": str(exc)})
            return
        state.failing.pop(item.key, None)
        state.remember(item.key)
        state.articles_indexed += 1

    def _article(self, state: FeedState, item: FeedItem) -> Article:
        """The item's page as `add` reads it; else the item's own full content; else FetchError."""
        try:
            page = fetch_article(item.link, allow_private=self.allow_private, max_bytes=self.max_bytes,
                                 timeout=self.timeout)
            return page.model_copy(update={"id": page.url or item.link, "date": page.date or item.published,
                                           "title": page.title or item.title, "source": state.source,
                                           "origin": f"feed:{state.url}"})
        except FetchError:
            text = _content_text(item.content)
            if not text:
                raise
            return Article(id=item.link, title=item.title or item.link, text=text, date=item.published,
                           url=item.link, source=state.source, origin=f"feed:{state.url}")


def _content_text(content: str | None) -> str | None:
    """An item's full content (HTML) as article text, when it is more than a teaser."""
    from embeddings.html import html_to_page

    if not content or len(content) < 200:
        return None
    page = html_to_page(f"<html><body><article>{content}</article></body></html>".encode())
    return page.text.strip() if page is not None and page.text.strip() else None


def _save(writer: IndexWriter, states: dict[str, FeedState]) -> None:
    """Write this run's feed states, for the feeds still followed under the writer's lock (one removed
    meanwhile stays removed)."""
    followed = load_states(writer.db)
    for url, state in states.items():
        if url in followed:
            save_state(writer.db, state)
