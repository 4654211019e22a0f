"""Settings → the objects every adapter works through: the pipeline that answers, the indexer that adds a page,
and the feed updater.

The CLI and the Telegram bot both build theirs here, so neither imports the other.
"""

from __future__ import annotations

from bot.settings import Settings


def open_pipeline(settings: Settings):
    """The retrieval pipeline over the configured index (model loads on first question)."""
    from embeddings.encoder import make_encoder
    from retrieval.pipeline import Pipeline

    return Pipeline(settings.index, make_encoder(settings.backend), min_confidence=settings.min_confidence,
                    reading=scorer_reading(settings))


def scorer_reading(settings: Settings):
    """The trained scorer with its fitted weights when NEWSDESK_READER asks for it, else None."""
    if not settings.reader:
        return None
    from retrieval.reading import shipped_reading

    found = shipped_reading()
    if found is None:
        raise SystemExit("NEWSDESK_READER is on, but this installation has no trained scorer "
                         "(retrieval/scorer.onnx) with fitted weights: set NEWSDESK_READER=false")
    return found


def fetch_limits(settings: Settings) -> dict:
    """The configured limits of every download: private addresses, page size, time."""
    return {"allow_private": settings.allow_private_urls, "max_bytes": int(settings.max_page_mb * 2**20),
            "timeout": settings.fetch_timeout}


def add_url(url: str, settings: Settings, encoder=None):
    """Fetch, extract and index one page with the configured limits (`newsdesk add`, the bot's /add)."""
    from embeddings.add import index_url
    from embeddings.encoder import make_encoder

    return index_url(url, settings.index, encoder or make_encoder(settings.backend), **fetch_limits(settings))


def feed_updater(settings: Settings, encoder=None, **config):
    """The configured feed updater (`newsdesk update`, the bot's --update-every); `config` overrides settings."""
    from embeddings.encoder import make_encoder
    from embeddings.feed_update import FeedUpdater

    options = {**fetch_limits(settings), "keep_days": settings.keep_days, "delay": settings.feed_delay, **config}
    return FeedUpdater(settings.index, encoder or make_encoder(settings.backend), **options)
