"""Rebuild the index's embeddings: all of them from the stored articles, or only what changed in their files.

    python scripts/rebuild_embeddings.py [--index DIR]                 # re-embed every stored article afresh
    python scripts/rebuild_embeddings.py [--index DIR] --changed-only  # re-read source files; embed what changed
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings  # noqa: E402
from embeddings.storage import database  # noqa: E402
from embeddings.encoder import make_encoder  # noqa: E402
from embeddings.storage.reader import IndexReader  # noqa: E402
from embeddings.indexer import Indexer  # noqa: E402
from embeddings.loaders import Problem, load_file  # noqa: E402
from embeddings.storage.store import IndexError_  # noqa: E402
from embeddings.models import Article  # noqa: E402


def reread_sources(articles: list[Article]) -> Iterator[Article | Problem]:
    """Load again every source file the stored articles came from (URLs are left as they are)."""
    by_origin: dict[str, list[Article]] = {}
    for article in articles:
        by_origin.setdefault(article.origin, []).append(article)
    for origin, stored in by_origin.items():
        path = Path(origin)
        if origin.startswith(("http://", "https://")):
            yield from stored
        elif path.exists():
            yield from load_file(path, article_id=stored[0].id)


def rebuild(root: Path, backend: str, changed_only: bool):
    """Re-embed the stored articles (all, or only those whose source files changed); return the report."""
    reader = IndexReader.open(root)
    stored = list(database.iter_articles(reader.db))
    reader.close()
    indexer = Indexer(root, make_encoder(backend))
    if changed_only:
        origins = {Path(a.origin) for a in stored if not a.origin.startswith(("http://", "https://"))}
        return indexer.run(reread_sources(stored), prune=origins)
    return indexer.run(stored, rebuild=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="index directory (default: $NEWSDESK_INDEX)")
    parser.add_argument("--changed-only", action="store_true",
                        help="re-read the articles' files and embed only new or changed articles; "
                             "articles whose files are gone are removed")
    args = parser.parse_args(argv)
    settings = Settings()
    root = args.index or settings.index
    try:
        report = rebuild(root, settings.backend, args.changed_only)
    except IndexError_ as exc:
        print(f"rebuild_embeddings: {exc}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"{root}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
