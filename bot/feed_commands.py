"""`newsdesk feeds add|list|remove` and `newsdesk update`: follow RSS/Atom feeds and index what they bring."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading

from bot.settings import Settings
from bot.wiring import feed_updater, fetch_limits

FEEDS_HELP = """Follow RSS and Atom feeds. `add` takes a feed's URL, or a site's page that advertises one;
`newsdesk update` then indexes each feed's new stories. What newsdesk knows of each feed is kept inside the index."""


def add_parsers(sub, index_opt: argparse.ArgumentParser, json_opt: argparse.ArgumentParser) -> None:
    """The `feeds` and `update` subcommands, on the CLI's subparsers."""
    feeds = sub.add_parser("feeds", help="follow RSS/Atom feeds (add, list, remove)", description=FEEDS_HELP)
    actions = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    p = actions.add_parser("add", parents=[index_opt, json_opt], help="follow a feed (or the one a page advertises)")
    p.add_argument("url", metavar="URL")
    p.add_argument("--name", help="the source name its articles get (default: the feed's title)")
    actions.add_parser("list", parents=[index_opt, json_opt], help="the feeds followed, with their last fetch")
    p = actions.add_parser("remove", parents=[index_opt], help="stop following a feed (its articles stay)")
    p.add_argument("feed", metavar="URL|NAME")
    p = sub.add_parser("update", parents=[index_opt, json_opt], help="fetch every feed and index new stories",
                       description="Fetch every followed feed once (conditional GET: an unchanged feed costs a "
                                   "304), fetch each new item's page as `add` does (else use the item's own full "
                                   "content), and commit all new articles with the feeds' state in one generation. "
                                   "A broken feed is reported and skipped; the exit code is 1 only if every feed failed.")
    p.add_argument("--per-feed", type=int, default=20, metavar="N", help="at most N new items per feed per run (default 20)")
    p.add_argument("--every", type=duration, metavar="DURATION",
                   help="update again every DURATION (e.g. 15m, 1h, 90s) until Ctrl-C or SIGTERM, which let the "
                        "current run finish its commit")
    p.add_argument("--keep-days", type=int, metavar="N", help="remove feed articles dated more than N days ago "
                   "(default: $NEWSDESK_KEEP_DAYS, else keep all); articles indexed by hand are never removed")


def duration(text: str) -> float:
    """"90s", "15m", "1h30m" or a number of seconds → seconds (argparse type)."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if text.strip().replace(".", "", 1).isdigit():
        seconds = float(text)
    elif match and any(match.groups()):
        hours, minutes, secs = (int(g or 0) for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h30m)")
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the duration must be more than zero")
    return seconds


def cmd_feeds(args, settings: Settings) -> int:
    return {"add": _add, "list": _list, "remove": _remove}[args.feeds_command](args, settings)


def _encoder(settings: Settings):
    """The configured encoder, unloaded: writing feed state needs its name, not the model."""
    from embeddings.encoder import make_encoder

    return make_encoder(settings.backend)


def _add(args, settings: Settings) -> int:
    import datetime as dt

    from embeddings.feed_update import commit_feeds, read_states
    from embeddings.feeds import FeedState, resolve_feed
    from embeddings.fetch import FetchError

    try:
        url, parsed = resolve_feed(args.url, **fetch_limits(settings))
    except FetchError as exc:
        print(f"newsdesk feeds add: {exc}", file=sys.stderr)
        return 1
    if url in read_states(settings.index):
        print(f"newsdesk: already following {url}", file=sys.stderr)
        return 0
    state = FeedState(url=url, name=args.name, title=parsed.title, added=dt.datetime.now(dt.timezone.utc))
    commit_feeds(settings.index, _encoder(settings), save=[state])
    if args.json:
        print(json.dumps({"url": url, "source": state.source, "items": len(parsed.items)}))
    else:
        print(f"following “{state.source}” ({url}, {len(parsed.items)} items now); `newsdesk update` indexes them")
    return 0


def _list(args, settings: Settings) -> int:
    from embeddings.feed_update import read_states

    rows = [{"url": s.url, "name": s.source, "last_fetch": s.last_fetch and s.last_fetch.isoformat(timespec="seconds"),
             "last_status": s.last_status, "items_seen": s.items_seen, "articles_indexed": s.articles_indexed,
             "failing": len(s.failing), "dropped": s.dropped, "last_error": s.last_error}
            for s in read_states(settings.index).values()]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no feeds followed: newsdesk feeds add URL")
    for row in rows:
        fetched = f"last fetched {row['last_fetch']} (HTTP {row['last_status']})" if row["last_fetch"] else "not fetched yet"
        print(f"{row['name']}  {row['url']}\n  {fetched}; {row['items_seen']} items seen, "
              f"{row['articles_indexed']} articles indexed, {row['failing']} retrying, {len(row['dropped'])} dropped"
              + (f"\n  last error: {row['last_error']}" if row["last_error"] else ""))
    return 0


def _remove(args, settings: Settings) -> int:
    from embeddings.feed_update import commit_feeds, read_states

    matches = [s.url for s in read_states(settings.index).values() if args.feed in (s.url, s.name, s.source)]
    if len(matches) != 1:
        problem = "no feed" if not matches else "more than one feed"
        print(f"newsdesk feeds remove: {problem} matches {args.feed!r} (see newsdesk feeds list)", file=sys.stderr)
        return 1
    commit_feeds(settings.index, _encoder(settings), remove=matches)
    print(f"no longer following {matches[0]}; its articles stay in the index")
    return 0


def cmd_update(args, settings: Settings) -> int:
    """One pass over the feeds (1 when every feed failed, else 0), or one every --every until stopped."""
    updater = feed_updater(settings, per_feed=args.per_feed, keep_days=args.keep_days or settings.keep_days)
    if args.every is None:
        return _print_update(updater.run(), args.json)
    stop = _stop_on_signals()
    while not stop.is_set():
        _print_update(updater.run(), args.json)
        stop.wait(args.every)
    return 0


def _print_update(report, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.as_json()), flush=True)
    else:
        for run in report.feeds:
            if run.error:
                print(f"newsdesk update: {run.url}: {run.error}", file=sys.stderr)
        print(report.summary(), flush=True)
    return 1 if report.feeds and report.count("failed") == len(report.feeds) else 0


def _stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM: the loop ends after the run in progress has committed."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop
