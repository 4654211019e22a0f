"""Answer quality through the product: `newsdesk eval` on ReQA-SQuAD, the off-corpus split and SQuAD 2.0.

    python scripts/bench_quality.py [--limit N] [--json] [--data DIR]

ReQA-SQuAD: all of SQuAD v1.1 dev, every sentence a candidate (targets P@1 >= 0.72, MRR >= 0.80).
Off-corpus: half of the v1.1 articles indexed, the questions of both halves asked (target: >= 90%
of questions about missing articles get "not covered", >= 90% of the others an answer).
SQuAD 2.0: how often its unanswerable questions still get an answer, at the shipped operating point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import _bench

V1 = [f"qa/squad_v1.1_dev.part{i:02d}.jsonl" for i in (1, 2, 3, 4)]
V2 = [f"qa/squad_v2.0_cs224n_dev.part{i:02d}.jsonl" for i in (1, 2, 3)]
RUNS = {"ReQA-SQuAD v1.1": (V1, []), "off-corpus (v1.1, half indexed)": (V1, ["--half"]), "SQuAD 2.0 (dev half)": (V2, [])}
COLUMNS = ("P@1", "R@5", "MRR", "citation_accuracy", "answered_when_answerable", "answered_when_off_corpus",
           "answered_when_impossible", "questions", "latency_ms_p50", "latency_ms_p95", "questions_per_s")


def run_eval(files: list, extra: list[str], limit: int | None, backend: str) -> dict:
    """One `newsdesk eval --json` run as a subprocess, exactly as a user would start it."""
    cmd = [sys.executable, "-m", "bot.cli", "eval", *map(str, files), "--json", *extra]
    cmd += ["--limit", str(limit)] if limit else []
    env = {**os.environ, "NEWSDESK_BACKEND": backend}
    out = subprocess.run(cmd, cwd=_bench.REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    args = _bench.parser(__doc__.splitlines()[0], "ask only the first N questions of each set").parse_args()
    rows = []
    for name, (parts, extra) in RUNS.items():
        files = [_bench.require(args.data / part) for part in parts]
        report = run_eval(files, extra, args.limit, args.backend)
        rows.append({"set": name, **{c: report.get(c) for c in COLUMNS}})
    _bench.emit("quality", rows, args.json, backend=args.backend, limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
