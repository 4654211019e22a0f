"""Score article extraction from HTML: bare trafilatura against embeddings.html.html_to_page.

Reads the article extraction benchmark (181 real pages with a human-checked body) from the
shared evaluation data and prints the mean bag-of-tokens F1 of each extractor, per page then
averaged. Usage: python scripts/bench_html_extraction.py [--data DIR] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCHMARK = Path("html") / "article_extraction_benchmark"


def token_f1(predicted: str, gold: str) -> float:
    """Bag-of-tokens F1 of whitespace tokens: the benchmark's measure of one extracted page."""
    predicted_tokens, gold_tokens = Counter(predicted.split()), Counter(gold.split())
    overlap = sum((predicted_tokens & gold_tokens).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(predicted_tokens.values())
    recall = overlap / sum(gold_tokens.values())
    return 2 * precision * recall / (precision + recall)


def load_pages(folder: Path, limit: int | None) -> list[tuple[bytes, str]]:
    """The benchmark's (raw HTML, gold text) pairs, at most `limit` of them, in file order."""
    pages = []
    with (folder / "ground_truth.jsonl").open(encoding="utf-8") as rows:
        for line in rows:
            if limit is not None and len(pages) >= limit:
                break
            row = json.loads(line)
            with gzip.open(folder / row["html_file"]) as page:
                pages.append((page.read(), row["expected_text"]))
    return pages


def extractors() -> dict[str, Callable[[bytes], str]]:
    """The extractors compared, by name, each mapping a raw page to its text ("" for nothing)."""
    import trafilatura

    from embeddings.html import html_to_page

    def page_text(html: bytes) -> str:
        page = html_to_page(html)
        return page.text if page else ""

    return {"trafilatura.extract": lambda html: trafilatura.extract(html) or "", "html_to_page": page_text}


def score(pages: list[tuple[bytes, str]]) -> list[dict[str, object]]:
    """Mean token F1, pages with no text, and seconds taken, for each extractor over the pages."""
    results = []
    for name, extract in extractors().items():
        started = time.perf_counter()
        texts = [extract(html) for html, _ in pages]
        scores = [token_f1(text, gold) for text, (_, gold) in zip(texts, pages)]
        results.append({
            "extractor": name,
            "pages": len(pages),
            "mean_f1": round(sum(scores) / len(scores), 4),
            "empty": sum(not text for text in texts),
            "seconds": round(time.perf_counter() - started, 1),
        })
    return results


def print_table(results: list[dict[str, object]]) -> None:
    """Print the results as an aligned table."""
    print(f"{'extractor':<22}{'pages':>6}{'mean F1':>9}{'empty':>7}{'seconds':>9}")
    for row in results:
        print(f"{row['extractor']:<22}{row['pages']:>6}{row['mean_f1']:>9.4f}{row['empty']:>7}{row['seconds']:>9}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, check the data is there, score both extractors and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared evaluation data folder")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    folder = args.data / BENCHMARK
    if not (folder / "ground_truth.jsonl").is_file():
        print(f"error: benchmark not found at {folder} (pass --data DIR pointing at the shared data)", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # so `python scripts/...` finds the embeddings package
    results = score(load_pages(folder, args.limit))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
