"""What several `newsdesk` subcommands share: the date and filter options and the printing of a flat report."""

from __future__ import annotations

import argparse
import json


def parse_day(value: str):
    """A day as --since, --until, --as-of and a batch line's "as_of" take it: YYYY-MM-DD, YYYY-MM or YYYY."""
    from retrieval.filters import parse_date

    try:
        return parse_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def filters_from(args):
    """The --since/--until/--source flags as Filters."""
    from retrieval.filters import Filters

    return Filters(since=args.since, until=args.until, source=args.source)


def print_report(report: dict, as_json: bool) -> None:
    """A flat report as one JSON object, or as aligned `key: value` lines."""
    if as_json:
        print(json.dumps(report))
        return
    width = max(map(len, report), default=0)
    for key, value in report.items():
        print(f"{key:>{width}}: {value}")
