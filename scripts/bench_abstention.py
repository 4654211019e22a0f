"""Measure how well the pipeline's score threshold separates questions the corpus answers from those it does not.

SQuAD 2.0 (CS224n dev half): one article per Wikipedia title, half the titles indexed. Three groups
of questions are asked with abstention off: (a) answerable on indexed titles, (b) unanswerable on
indexed titles (on-topic), (c) any question on the other titles (off-topic). A question is answered
at threshold t when some candidate sentence scores >= t, exactly as `ExtractiveAnswerer` decides;
(a)'s P@1 is whether the first sentence quoted at t holds a gold answer offset.
Usage: python scripts/bench_abstention.py [--data DIR] [--limit N] [--index-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SQUAD_PARTS = [Path("qa") / f"squad_v2.0_cs224n_dev.part{i:02d}.jsonl" for i in (1, 2, 3)]
THRESHOLDS = [round(0.25 + 0.025 * i, 3) for i in range(17)]
GROUPS = {"answerable": "(a) answerable, indexed titles", "unanswerable": "(b) unanswerable, indexed titles",
          "off_topic": "(c) any, non-indexed titles"}
ALL_CANDIDATES = 1_000_000  # `top` large enough that `ask` returns every candidate, in ranked order
SEED = 0


def load_records(data: Path) -> list[dict]:
    """The SQuAD 2.0 records, the parts concatenated in order."""
    records = []
    for part in SQUAD_PARTS:
        with (data / part).open(encoding="utf-8") as rows:
            records.extend(json.loads(line) for line in rows if line.strip())
    return records


def build_articles(records: list[dict]) -> tuple[dict[str, str], dict[tuple[str, str], int]]:
    """Article text per title (distinct paragraphs in order, joined by a blank line) and each paragraph's offset."""
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record["context"] not in paragraphs[record["context_title"]]:
            paragraphs[record["context_title"]].append(record["context"])
    texts, offsets = {}, {}
    for title, contexts in paragraphs.items():
        position = 0
        for context in contexts:
            offsets[(title, context)] = position
            position += len(context) + 2
        texts[title] = "\n\n".join(contexts)
    return texts, offsets


def split_groups(records: list[dict], titles: list[str], limit: int) -> dict[str, list[dict]]:
    """The three question groups, each a seeded sample of at most `limit` records kept in file order."""
    indexed = set(sorted(titles)[0::2])
    groups: dict[str, list[dict]] = {name: [] for name in GROUPS}
    for record in records:
        if record["context_title"] not in indexed:
            groups["off_topic"].append(record)
        else:
            groups["unanswerable" if record["is_impossible"] else "answerable"].append(record)
    rng = random.Random(SEED)
    return {name: [rows[i] for i in sorted(rng.sample(range(len(rows)), min(limit, len(rows))))]
            for name, rows in groups.items()}


def build_index(index_dir: Path, texts: dict[str, str], titles: list[str], encoder) -> dict:
    """Index the given titles' articles (incremental, so a cache dir is reused) and return the index stats."""
    from embeddings.indexer import Indexer
    from embeddings.models import Article

    articles = [Article(id=title, title=title, text=texts[title], source="SQuAD 2.0") for title in titles]
    report = Indexer(index_dir, encoder, show_progress=False).run(articles)
    print(f"index: {report.summary()}", file=sys.stderr)
    return {"articles": len(articles), "sentences_embedded": report.sentences, "seconds": round(report.seconds, 1)}


def ask_all(pipeline, records: list[dict], offsets: dict[tuple[str, str], int]) -> list[dict]:
    """Every candidate's (score, holds-gold) in ranked order, per question."""
    results = []
    for record in records:
        base = offsets[(record["context_title"], record["context"])]
        gold = [(record["context_title"], base + start) for start in record["answer_starts"]]
        answer = pipeline.ask(record["question"], top=ALL_CANDIDATES, abstain=False)
        results.append({"id": record["id"], "ranked": [
            (s.score, any(a == s.citation.article_id and s.citation.start <= o < s.citation.end for a, o in gold))
            for s in answer.sentences]})
    return results


def first_quoted(ranked: list[tuple[float, bool]], threshold: float) -> tuple[float, bool] | None:
    """The sentence the pipeline would quote first at `threshold`, or None when it would abstain."""
    return next((item for item in ranked if item[0] >= threshold), None)


def sweep(results: dict[str, list[dict]]) -> list[dict]:
    """Per threshold: the fraction of each group answered, and P@1 among the answered of (a)."""
    rows = []
    for threshold in THRESHOLDS:
        row: dict = {"threshold": threshold}
        for name, questions in results.items():
            quoted = [first_quoted(q["ranked"], threshold) for q in questions]
            answered = [item for item in quoted if item is not None]
            row[name] = round(len(answered) / len(questions), 4) if questions else None
            if name == "answerable":
                row["p_at_1"] = round(sum(hit for _, hit in answered) / len(answered), 4) if answered else None
                row["correct"] = round(sum(hit for _, hit in answered) / len(questions), 4) if questions else None
        rows.append(row)
    return rows


def best_threshold(rows: list[dict], negative: str) -> dict:
    """The threshold maximising balanced accuracy: (a) answered and `negative` abstained, equally weighted."""
    scored = [(round((row["answerable"] + 1 - row[negative]) / 2, 4), row["threshold"]) for row in rows]
    accuracy, threshold = max(scored, key=lambda pair: (pair[0], -pair[1]))
    return {"threshold": threshold, "balanced_accuracy": accuracy}


def score_summary(results: dict[str, list[dict]]) -> dict:
    """Quartiles of each group's max candidate score: where the groups sit regardless of the grid."""
    summary = {}
    for name, questions in results.items():
        tops = sorted(max((s for s, _ in q["ranked"]), default=-1.0) for q in questions)
        summary[name] = {f"q{k}": round(tops[min(len(tops) - 1, len(tops) * k // 4)], 4) for k in (1, 2, 3)}
    return summary


def print_report(report: dict) -> None:
    """Print the sweep table, the best thresholds and the score quartiles."""
    index = report["index"]
    counts = ", ".join(f"{GROUPS[name]} {count}" for name, count in report["questions"].items())
    print(f"indexed {index['articles']} articles, {index['sentences']} sentences ({index['sentences_embedded']} "
          f"embedded now, {index['seconds']}s); questions: {counts}")
    print(f"\n{'threshold':>9}{'(a) ans':>9}{'P@1':>7}{'correct':>9}{'(b) ans':>9}{'(c) ans':>9}")
    for row in report["sweep"]:
        p_at_1 = f"{row['p_at_1']:.3f}" if row["p_at_1"] is not None else "-"
        print(f"{row['threshold']:>9.3f}{row['answerable']:>9.3f}{p_at_1:>7}{row['correct']:>9.3f}"
              f"{row['unanswerable']:>9.3f}{row['off_topic']:>9.3f}")
    for key, label in (("vs_off_topic", "(a) vs (c)"), ("vs_unanswerable", "(a) vs (b)")):
        best = report["best"][key]
        print(f"\nbest threshold {label}: {best['threshold']:.3f} (balanced accuracy {best['balanced_accuracy']:.3f})",
              end="")
    print("\n\nmax score quartiles (q1 / median / q3):")
    for name, quartiles in report["score_quartiles"].items():
        print(f"  {GROUPS[name]:<34}{quartiles['q1']:.3f} / {quartiles['q2']:.3f} / {quartiles['q3']:.3f}")
    print(f"\n{report['seconds']}s in all")


def run(data: Path, limit: int, index_dir: Path) -> dict:
    """Build the corpus and index, ask every sampled question, and sweep the thresholds."""
    from embeddings.encoder import SentenceTransformerEncoder
    from retrieval.pipeline import Pipeline

    began = time.perf_counter()
    records = load_records(data)
    texts, offsets = build_articles(records)
    groups = split_groups(records, list(texts), limit)
    encoder = SentenceTransformerEncoder()
    index = build_index(index_dir, texts, sorted(texts)[0::2], encoder)
    pipeline = Pipeline(index_dir, encoder)
    stats = pipeline.stats()
    if stats["articles"] != index["articles"]:
        raise SystemExit(f"error: {index_dir} holds other articles too; use an empty or dedicated --index-dir")
    index["sentences"] = stats["sentences"]
    print(f"asking {sum(map(len, groups.values()))} questions ...", file=sys.stderr)
    results = {name: ask_all(pipeline, rows, offsets) for name, rows in groups.items()}
    rows = sweep(results)
    return {"index": index, "questions": {name: len(group) for name, group in groups.items()}, "sweep": rows,
            "best": {"vs_off_topic": best_threshold(rows, "off_topic"),
                     "vs_unanswerable": best_threshold(rows, "unanswerable")},
            "score_quartiles": score_summary(results), "seconds": round(time.perf_counter() - began, 1)}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, check the data is there, run the benchmark and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared evaluation data folder")
    parser.add_argument("--limit", type=int, default=600, help="questions per group (default 600)")
    parser.add_argument("--index-dir", type=Path, default=None,
                        help="keep the index here and reuse it next time (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    missing = [str(args.data / part) for part in SQUAD_PARTS if not (args.data / part).is_file()]
    if missing:
        print(f"error: SQuAD 2.0 data not found: {', '.join(missing)} (pass --data DIR pointing at the shared data)",
              file=sys.stderr)
        return 1
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # so `python scripts/...` finds the embeddings package
    with tempfile.TemporaryDirectory(prefix="bench_abstention_") as scratch:
        report = run(args.data, args.limit, args.index_dir or Path(scratch) / "index")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
