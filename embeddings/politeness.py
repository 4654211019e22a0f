"""Manners for fetching many pages from other people's sites: robots.txt honoured, a pause between
requests to the same host. Requests go one at a time, so no host ever has more than one in flight."""

from __future__ import annotations

import time
import urllib.robotparser
from urllib.parse import urlsplit

from embeddings.fetch import FetchError, get

ROBOTS_AGENT = "newsdesk"
ROBOTS_MAX_BYTES = 512 * 1024


class Politeness:
    """`before(url)` waits out the host's delay and raises FetchError where robots.txt says no."""

    def __init__(self, *, allow_private: bool, timeout: float, delay: float = 1.0, clock=time.monotonic,
                 sleep=time.sleep):
        self.allow_private, self.timeout, self.delay = allow_private, timeout, delay
        self._clock, self._sleep = clock, sleep
        self._rules: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._last: dict[str, float] = {}

    def before(self, url: str) -> None:
        """Call before each request to `url`."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        rules = self._rules[origin] if origin in self._rules else self._load(origin)
        if rules is not None and not rules.can_fetch(ROBOTS_AGENT, url):
            raise FetchError(f"{origin}/robots.txt does not allow newsdesk to fetch {url}")
        self._pause(origin)

    def _pause(self, origin: str) -> None:
        waited = self._clock() - self._last.get(origin, float("-inf"))
        if waited < self.delay:
            self._sleep(self.delay - waited)
        self._last[origin] = self._clock()

    def _load(self, origin: str):
        """The site's robots.txt rules; None (anything goes) when it has none. A site whose robots.txt
        cannot be read for another reason is treated as saying no, for this run (RFC 9309, 2.3.1)."""
        self._pause(origin)
        rules = urllib.robotparser.RobotFileParser()
        try:
            response = get(f"{origin}/robots.txt", allow_private=self.allow_private, max_bytes=ROBOTS_MAX_BYTES,
                           timeout=self.timeout, kinds=("text/plain", "text/html"))
        except FetchError as exc:
            rules = None if exc.status is not None and 400 <= exc.status < 500 else _refuse_all()
        else:  # a page instead of a robots.txt (a site answering every path with its home page) says nothing
            if response.headers.get("content-type", "").startswith("text/html"):
                rules = None
            else:
                rules.parse(response.body.decode("utf-8", "replace").splitlines())
        self._rules[origin] = rules
        return rules


def _refuse_all() -> urllib.robotparser.RobotFileParser:
    rules = urllib.robotparser.RobotFileParser()
    rules.parse(["User-agent: *", "Disallow: /"])
    return rules
