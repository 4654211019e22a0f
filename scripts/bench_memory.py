"""Peak resident memory of `newsdesk index` (building) and `newsdesk ask` (serving a batch of questions).

    python scripts/bench_memory.py [--limit N] [--build-limit N] [--questions 50] [--backend onnx|onnx-int8|torch] [--json]

Each command runs as its own process and its peak RSS is read from the kernel when it exits.
Serving uses the cached full index; building indexes the corpus (or --build-limit articles) afresh.
Target: serving ≤ 1.5 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import _bench

from bench_coldstart import NEWSDESK

SERVING_TARGET_MB = 1536


def peak_rss(command: list[str], env: dict, stdin: str = "") -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one run of `command`; exits with its stderr if it fails."""
    with tempfile.TemporaryFile("w+") as feed, tempfile.TemporaryFile("w+") as errors:
        feed.write(stdin)
        feed.seek(0)
        process = subprocess.Popen(command, env=env, cwd=_bench.REPO, stdin=feed, stdout=subprocess.DEVNULL,
                                   stderr=errors)
        seconds, (status, usage) = _bench.timed(_wait, process)
        if status != 0:
            errors.seek(0)
            sys.exit(f"{' '.join(command)} failed with status {status}: {errors.read()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds


def _wait(process: subprocess.Popen):
    """Wait for the child and return (exit status, its own resource usage)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def main() -> None:
    p = _bench.parser(__doc__.split("\n")[0], "serve the index of an N-article sample instead of the full one")
    p.add_argument("--build-limit", type=int, help="build from N articles (default: the same corpus as served)")
    p.add_argument("--questions", type=int, default=50, help="questions asked while serving (default 50)")
    args = p.parse_args()
    served = _bench.cached_index(args.data, args.backend, args.limit)
    build_limit = args.build_limit or args.limit
    folder = _bench.corpus(args.data, build_limit)
    env = {**os.environ, "NEWSDESK_BACKEND": args.backend}
    asked = "".join(json.dumps({"id": i, "question": q}) + "\n"
                    for i, q in enumerate(_bench.questions(args.data, args.questions)))
    with tempfile.TemporaryDirectory(prefix="newsdesk-memory-", dir=_bench.CACHE) as scratch:
        build = peak_rss([*NEWSDESK, "index", str(folder), "--index", scratch, "--quiet"], env)
    serve = peak_rss([*NEWSDESK, "ask", "--json", "--index", str(served)], env, stdin=asked)
    rows = [{"process": f"newsdesk index ({build_limit or 'full'} corpus)", "peak RSS MB": build[0],
             "seconds": build[1]},
            {"process": f"newsdesk ask x{args.questions} ({args.limit or 'full'} index)", "peak RSS MB": serve[0],
             "seconds": serve[1]}]
    _bench.emit("bench_memory", rows, args.json, backend=args.backend, serving_target_mb=SERVING_TARGET_MB,
                met=serve[0] <= SERVING_TARGET_MB)


if __name__ == "__main__":
    main()
