"""Cold start: wall time of `newsdesk --help` and of a one-shot `newsdesk ask` over the full index.

    python scripts/bench_coldstart.py [--limit N] [--runs 5] [--backend onnx|onnx-int8|torch] [--json]

Each command runs as a fresh process (the files are in the page cache after the first run, as they
are for a user asking twice). Targets: --help ≤ 0.5 s, one-shot ask ≤ 5 s.
"""

from __future__ import annotations

import os
import subprocess
import sys

import _bench

NEWSDESK = [sys.executable, "-m", "bot.cli"]
TARGETS = {"newsdesk --help": 0.5, "newsdesk ask": 5.0}
QUESTION = "What did the Bank of England decide about interest rates?"


def wall(command: list[str], env: dict, runs: int) -> list[float]:
    """Seconds each of `runs` fresh runs of `command` took, after one untimed run to warm the page cache."""
    times = []
    for attempt in range(runs + 1):
        seconds, result = _bench.timed(subprocess.run, command, env=env, cwd=_bench.REPO, capture_output=True,
                                       text=True, timeout=600)
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed: {result.stderr.strip()}")
        if attempt:
            times.append(seconds)
    return times


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0], "use the index of an N-article sample instead of the full one")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    args = p.parse_args()
    root = _bench.cached_index(args.data, args.backend, args.limit)
    env = {**os.environ, "NEWSDESK_BACKEND": args.backend, "NEWSDESK_INDEX": str(root)}
    commands = {"newsdesk --help": [*NEWSDESK, "--help"], "newsdesk ask": [*NEWSDESK, "ask", QUESTION]}
    rows = []
    for label, command in commands.items():
        times = wall(command, env, args.runs)
        rows.append({"command": label, "median s": _bench.median(times), "max s": max(times),
                     "target s": TARGETS[label], "met": _bench.median(times) <= TARGETS[label]})
    _bench.emit("bench_coldstart", rows, args.json, backend=args.backend, index=str(root), runs=args.runs)


if __name__ == "__main__":
    main()
