"""What the benchmark scripts share: the corpus, the cached full index, timing, machine facts and the output table."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.encoder import BACKENDS, DEFAULT_BACKEND  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Outside the repository and reused across runs: the full build takes minutes.
CACHE = Path(os.environ.get("NEWSDESK_BENCH_CACHE", Path(tempfile.gettempdir()) / "newsdesk-bench"))
CORPORA = ("bbc_news_2225.part*.jsonl", "reuters21578.part*.jsonl")
PART_ARTICLES = 2000


def parser(description: str, limit_help: str = "use only N articles (a quick run)") -> argparse.ArgumentParser:
    """The options every benchmark takes: --limit, --json, --backend, --data."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--limit", type=int, help=limit_help)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help="embedding backend")
    p.add_argument("--data", type=Path, default=DATA, help=f"evaluation data folder (default {DATA})")
    return p


def add_reader_option(p: argparse.ArgumentParser) -> None:
    """--reader / --no-reader: the trained sentence scorer reads the first candidates or not; by default as the
    product's settings say (NEWSDESK_READER)."""
    from bot.settings import Settings

    p.add_argument("--reader", action=argparse.BooleanOptionalAction, default=Settings().reader,
                   help="with the trained sentence scorer reading the first candidates (default: as the product's "
                        "settings say; --no-reader: the ranker alone)")


def require(path: Path) -> Path:
    """Exit with a clear message when the evaluation data beside the repository is absent."""
    if not path.exists():
        sys.exit(f"{path} is absent: the benchmarks read the BBC and Reuters corpora from ../shared/data/ "
                 "beside the repository (pass --data DIR to point elsewhere)")
    return path


def corpus(data: Path, limit: int | None) -> Path:
    """A folder holding the BBC + Reuters articles (or an even sample of `limit` of them), cached.

    Written as JSONL files of PART_ARTICLES lines each: newsdesk skips files over 20 MB.
    """
    articles = require(data / "articles")
    folder = CACHE / f"corpus-{limit or 'full'}"
    if (folder / ".done").exists():
        return folder
    files = [f for pattern in CORPORA for f in sorted(articles.glob(pattern))]
    lines = [line for f in files for line in f.read_text().splitlines() if line.strip()]
    if limit:
        lines = random.Random(0).sample(lines, min(limit, len(lines)))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for part, start in enumerate(range(0, len(lines), PART_ARTICLES)):
        (folder / f"articles-{part:03d}.jsonl").write_text("\n".join(lines[start : start + PART_ARTICLES]) + "\n")
    (folder / ".done").write_text("")
    return folder


def index_dir(backend: str, limit: int | None) -> Path:
    """Where the cached index of `corpus(limit)` built with `backend` lives."""
    return CACHE / f"index-{backend}-{limit or 'full'}"


def cached_index(data: Path, backend: str, limit: int | None) -> Path:
    """The index of the corpus, built once (bench_build.py rebuilds it) and reused by the other benchmarks."""
    from embeddings.encoder import make_encoder
    from embeddings.indexer import Indexer
    from embeddings.loaders import load_paths
    from embeddings.storage.store import current_generation

    root, folder = index_dir(backend, limit), corpus(data, limit)
    if current_generation(root) is None:
        print(f"building the benchmark index at {root} (once; later runs reuse it)", file=sys.stderr)
        Indexer(root, make_encoder(backend)).run(load_paths([folder]), prune=[folder], rebuild=True)
    return root


def questions(data: Path, count: int) -> list[str]:
    """`count` SQuAD v1.1 dev questions, evenly spread over the file."""
    qa = require(data / "qa")
    lines = [line for f in sorted(qa.glob("squad_v1.1_dev.part*.jsonl")) for line in f.read_text().splitlines()]
    step = max(len(lines) // count, 1)
    return [json.loads(line)["question"] for line in lines[::step][:count]]


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """Seconds taken by one call, and its result."""
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - began, result


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def p50_p95(ms: list[float], digits: int | None = None, label: str = "") -> dict[str, float]:
    """{"<label>p50 ms", "<label>p95 ms"} of a list of milliseconds, rounded to `digits`."""
    return {f"{label}p{q} ms": round(percentile(ms, q), digits) for q in (50, 95)}


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mb() -> dict[str, int]:
    """This process's resident memory now, in MB: its own (anonymous) pages, and the pages of mapped files
    (index vectors), which the kernel can drop and read again."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {kind: round(int(fields[f"Rss{kind.title()}"].split()[0]) / 1024) for kind in ("anon", "file")}


def _cpu_seconds() -> tuple[float, float, float]:
    """(now, CPU seconds used by the whole machine, CPU seconds used by this process and its children)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    own = sum(os.times()[:4])
    return time.perf_counter(), busy, own


_STARTED = _cpu_seconds()


def machine() -> dict:
    """What the numbers were measured on, and how many cores other processes kept busy meanwhile."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    now, busy, own = _cpu_seconds()
    others = ((busy - _STARTED[1]) - (own - _STARTED[2])) / (now - _STARTED[0])
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "other_processes_cores_busy": round(max(others, 0.0), 2),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def emit(name: str, rows: list[dict], as_json: bool, **facts) -> None:
    """Print the rows as an aligned table (with the facts above it), or everything as one JSON object."""
    facts = {**facts, "machine": machine()}
    if as_json:
        print(json.dumps({"benchmark": name, **facts, "rows": rows}, indent=2))
        return
    print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in facts.items() if k != "machine"))
    print(f"machine: {facts['machine']}")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def _cell(value) -> str:
    """Numbers with sensible precision, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
