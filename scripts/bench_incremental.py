"""Incremental rebuild: an unchanged re-run and a 1% edited + 1% deleted re-run, against a full build.

    python scripts/bench_incremental.py [--limit N] [--fraction 0.01] [--backend onnx|onnx-int8|torch] [--json]
    python scripts/bench_incremental.py --sizes 2000,20000,200000 [--json]

With --sizes, what one small write costs as the index grows (scripts/_incremental_sizes.py); otherwise:

On a scratch copy of the corpus: a full build; the same corpus again (target ≤ 2% of the full build);
then a fraction of the articles edited and as many deleted (target: time in proportion to the change).
The incrementally updated index is then compared with a fresh build of the changed corpus: same
articles, sentences and offsets, the same vectors, and the same answers to the same questions.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

import _bench
import numpy as np

from embeddings.encoder import make_encoder
from embeddings.storage.reader import IndexReader
from embeddings.indexer import Indexer
from embeddings.loaders import load_paths
from retrieval.pipeline import Pipeline

UNCHANGED_TARGET = 0.02
SENTENCES = ("SELECT a.id, s.idx, s.start, s.end, s.text, s.id FROM sentences s "
             "JOIN articles a ON a.rowid = s.article_rowid ORDER BY a.id, s.idx")


def change(folder: Path, fraction: float) -> tuple[list[dict], list[str]]:
    """Edit a `fraction` of the articles (a paragraph added) and delete as many; return (edited, deleted ids)."""
    files = sorted(folder.glob("*.jsonl"))
    articles = [(f, json.loads(line)) for f in files for line in f.read_text().splitlines()]
    count = max(1, round(len(articles) * fraction))
    picked = random.Random(1).sample(range(len(articles)), 2 * count)
    edited = [articles[i][1] for i in picked[:count]]
    deleted = {articles[i][1]["id"] for i in picked[count:]}
    for article in edited:
        article["text"] += f"\n\nThis story about {article['title'] or 'the market'} was corrected on the wire."
    for f in files:
        f.write_text("".join(json.dumps(a) + "\n" for g, a in articles if g == f and a["id"] not in deleted))
    return edited, sorted(deleted)


def differences(ours: Path, fresh: Path, questions: list[str], encoder) -> list[str]:
    """What differs between two indexes: stored rows, vectors, answers (an empty list when they agree)."""
    a, b = IndexReader.open(ours), IndexReader.open(fresh)
    found = []
    rows_a, rows_b = a.db.execute(SENTENCES).fetchall(), b.db.execute(SENTENCES).fetchall()
    if [r[:5] for r in rows_a] != [r[:5] for r in rows_b]:
        found.append("sentences (ids, offsets or texts) differ")
    elif not np.allclose(*(reader.sentence_vectors.reconstruct_batch(np.array([r[5] for r in rows], dtype=np.int64))
                           for reader, rows in ((a, rows_a), (b, rows_b))), atol=1e-4):
        found.append("sentence vectors differ")
    hashes = "SELECT id, content_hash FROM articles ORDER BY id"
    if a.db.execute(hashes).fetchall() != b.db.execute(hashes).fetchall():
        found.append("articles differ")
    answers = [[[(s.text, s.citation.article_id, s.citation.start, round(s.score, 3)) for s in p.ask(q).sentences]
                for q in questions] for p in (Pipeline(ours, encoder), Pipeline(fresh, encoder))]
    if answers[0] != answers[1]:
        found.append(f"answers differ for {sum(x != y for x, y in zip(*answers))} of {len(questions)} questions")
    return found


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--fraction", type=float, default=0.01, help="share of articles edited, and again deleted")
    p.add_argument("--sizes", help="comma-separated index sizes: time one add, delete and edit at each "
                                   "(synthetic indexes, built once and cached)")
    args = p.parse_args()
    if args.sizes:
        return by_size(args)
    source = _bench.corpus(args.data, args.limit)
    encoder = make_encoder(args.backend)
    encoder.load()
    with tempfile.TemporaryDirectory(prefix="incremental-", dir=_bench.CACHE) as scratch:
        folder, index = Path(scratch) / "corpus", Path(scratch) / "index"
        shutil.copytree(source, folder)

        def build(root: Path):
            return Indexer(root, encoder, show_progress=False).run(load_paths([folder]), prune=[folder])

        full_s, full = _bench.timed(build, index)
        unchanged = [_bench.timed(build, index) for _ in range(3)]
        edited, deleted = change(folder, args.fraction)
        changed_s, changed = _bench.timed(build, index)
        fresh_s, _ = _bench.timed(build, Path(scratch) / "fresh")
        questions = _bench.questions(args.data, 20) + [a["title"] for a in edited[:20]]
        problems = differences(index, Path(scratch) / "fresh", questions, encoder)
    unchanged_s = _bench.median([s for s, _ in unchanged])
    rows = [
        {"run": "full build", "seconds": full_s, "of full": 1.0, "sentences embedded": full.sentences},
        {"run": "unchanged re-run (median of 3)", "seconds": unchanged_s, "of full": unchanged_s / full_s,
         "sentences embedded": unchanged[0][1].sentences},
        {"run": f"{len(edited)} edited + {len(deleted)} deleted", "seconds": changed_s,
         "of full": changed_s / full_s, "sentences embedded": changed.sentences},
        {"run": "fresh build of the changed corpus", "seconds": fresh_s, "of full": fresh_s / full_s,
         "sentences embedded": None},
    ]
    _bench.emit("bench_incremental", rows, args.json, backend=args.backend, articles=len(full.added),
                changed_share=round(2 * args.fraction, 4), unchanged_target=f"<= {UNCHANGED_TARGET}",
                unchanged_met=unchanged_s / full_s <= UNCHANGED_TARGET,
                equals_fresh_build=not problems, differences=problems or None)


def by_size(args) -> None:
    import _incremental_sizes

    encoder = make_encoder(args.backend)
    encoder.load()
    rows = _incremental_sizes.run([int(n) for n in args.sizes.split(",")], encoder, args.data)
    small, large = rows[0], rows[-1]
    _bench.emit("bench_incremental --sizes", rows, args.json, backend=args.backend, repeats=_incremental_sizes.REPEATS,
                note=_incremental_sizes.synthetic_corpus.NOTE, add_ratio=round(large["add s"] / small["add s"], 2),
                add_target="largest <= 2x smallest and < 2 s")


if __name__ == "__main__":
    main()
