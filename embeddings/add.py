"""One web page by URL → the index: the path `newsdesk add` and the bot's /add share (feeds fetch their items'
pages through the same `fetch_article`, with the same address checks and limits)."""

from __future__ import annotations

from pathlib import Path

from embeddings.encoder import Encoder
from embeddings.fetch import fetch_article
from embeddings.indexer import Indexer, IndexReport
from embeddings.models import Article


def index_url(url: str, root: Path, encoder: Encoder, *, allow_private: bool, max_bytes: int,
              timeout: float) -> tuple[Article, IndexReport]:
    """Fetch, extract and index one page in its own commit; FetchError when it cannot be had."""
    article = fetch_article(url, allow_private=allow_private, max_bytes=max_bytes, timeout=timeout)
    return article, Indexer(root, encoder, show_progress=False).run([article])
