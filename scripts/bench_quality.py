"""Answer quality through the product: `newsdesk eval` on SQuAD, the chat set, WikiQA, TrecQA and a corpus-size sweep.

    python scripts/bench_quality.py [--only KEY[,KEY]] [--limit N] [--json] [--data DIR] [--reader | --no-reader]

--reader / --no-reader: with or without the trained sentence scorer reading the first candidates (NEWSDESK_READER;
by default as the product's settings say: on unless NEWSDESK_READER=false).

ReQA-SQuAD: all of SQuAD v1.1 dev, every sentence a candidate (targets P@1 >= 0.72, MRR >= 0.80).
Off-corpus: half of the v1.1 articles indexed, the questions of both halves asked (target: >= 90%
of questions about missing articles get "not covered", >= 90% of the others an answer).
SQuAD 2.0: how often its unanswerable questions still get an answer, at the shipped operating point.
Chat: the held-out questions and scripted conversations written for newsdesk, over the sample, the
seed page and the Reuters stories they name, with all BBC articles as distractors; and the questions
again with each collection indexed alone (the others' questions are then off-corpus).
WikiQA and TrecQA train (the shipped ranker is not fitted on them): newsdesk against plain dense
cosine over every sentence (`--baseline dense`).
Corpus size: SQuAD v1.1 with 1, 4, 24 and 48 of its articles indexed: how often it answers when the
article is there and when it is not (600 off-corpus questions at most per size).
ReQA-SQuAD unseen: the questions of the 32 v1.1 articles not in the SQuAD 2.0 CS224n half (the scorer is
fitted on that half), all 48 articles indexed. Reader: the test part of the reader questions (never fitted on,
tests/data/README.md) over the 684 Reuters, ABC and web-page articles all reader questions are about, with all BBC
articles as distractors.
Rows that ask about the same articles share one evaluation index; the first of them builds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _bench

V1, V2 = "qa/squad_v1.1_dev.part*.jsonl", "qa/squad_v2.0_cs224n_dev.part*.jsonl"
WIKIQA, TRECQA = "qa/wikiqa_train.part*.jsonl", "qa/trecqa_train.part*.jsonl"
BBC, REUTERS = "articles/bbc_news_2225.part*.jsonl", "articles/reuters21578.part*.jsonl"
SEED = "seeds/000_abd5cfe2a4579f9a.txt"  # beside the data folder
CHAT = ("tests/data/chat_questions.test.jsonl", "tests/data/chat_conversations.test.jsonl")
READER = "tests/data/reader_questions.test.jsonl"
WRITTEN = Path(tempfile.gettempdir()) / "newsdesk-bench-quality-inputs"  # derived input files, rewritten each run
SIZES = (1, 4, 24, 48)
COLUMNS = ("P@1", "R@5", "MRR", "citation_accuracy", "answered_when_answerable", "answered_when_off_corpus",
           "answered_when_impossible", "questions", "articles", "conversation_turns", "turns_right_article",
           "conversations_all_right", "latency_ms_p50", "latency_ms_p95", "questions_per_s")


@dataclass(frozen=True)
class Row:
    """One `newsdesk eval` run of the table: its files and flags, and which index it may share."""

    name: str
    args: tuple[str, ...] = ()
    shares: str | None = None  # rows with the same value index the same articles
    note: str | None = None  # why the row is skipped or what it lacks


def rows(data: Path) -> dict[str, Row]:
    """The table's rows by the key `--only` takes."""
    v1 = _shared(data, V1)
    v1_distractors = ("--distractors", str(_written(data, "squad-v1-seen-articles", _seen_squad_articles)))
    table = {
        "reqa": Row("ReQA-SQuAD v1.1", v1, "squad-v1"),
        "off-corpus": Row("off-corpus (v1.1, half indexed)", (*v1, "--half")),
        "reqa-unseen": Row("ReQA-SQuAD, 32 articles unseen by the scorer", (*_unseen_reqa(data), *v1_distractors)),
        "squad2": Row("SQuAD 2.0 (dev half)", _shared(data, V2)),
        "chat": _chat_row(data),
        **_chat_collection_rows(data),
        "reader": Row("reader questions (test part)", (READER, "--articles", str(_written(data, "reader-corpus",
                      _reader_articles)), "--distractors", *_shared(data, BBC))),
    }
    for key, name, pattern in (("wikiqa", "WikiQA train", WIKIQA), ("trecqa", "TrecQA train", TRECQA)):
        table[key] = Row(name, _shared(data, pattern), key)
        table[f"{key}-dense"] = Row(f"{name} (dense baseline)", (*table[key].args, "--baseline", "dense"), key)
    for size in SIZES:
        table[f"size-{size}"] = Row(f"v1.1, {size} of 48 articles indexed", (*v1, "--indexed", str(size)),
                                    "squad-v1" if size == 48 else None)
    return table


def _shared(data: Path, pattern: str) -> tuple[str, ...]:
    """The files of a set in the data folder, in order; exits with a clear message when it is absent."""
    folder, glob = pattern.rsplit("/", 1)
    files = sorted((data / folder).glob(glob))
    if not files:
        _bench.require(data / pattern)  # exits, naming what is absent
    return tuple(map(str, files))


def _written(data: Path, name: str, make) -> Path:
    """A JSON-lines input file made from the shared data by `make(data)` (records)."""
    path = WRITTEN / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in make(data)))
    return path


def _unseen_reqa(data: Path) -> tuple[str]:
    """The ReQA-SQuAD records of the v1.1 dev articles the scorer never saw, as one file."""
    from _scorer_data import reqa_held_out

    unseen = reqa_held_out(data)
    return (str(_written(data, "squad-v1-unseen", lambda d: [
        r for f in _shared(d, V1) for r in map(json.loads, Path(f).read_text().splitlines())
        if r["context_title"] in unseen])),)


def _seen_squad_articles(data: Path) -> list[dict]:
    """The v1.1 dev articles the scorer saw (through the CS224n half) as plain articles: indexed beside the
    unseen ones so that every sentence of v1.1 dev stays a candidate."""
    from _scorer_data import reqa_held_out
    from retrieval.evaluate import read_qa

    unseen = reqa_held_out(data)
    articles, _ = read_qa([Path(f) for f in _shared(data, V1)])
    return [{"id": a.id, "title": a.title, "text": a.text} for a in articles if a.id not in unseen]


def _reader_articles(data: Path) -> list[dict]:
    """The articles the reader questions (all three parts) are about, as newsdesk stores them (pages through its
    HTML reader)."""
    from _fitting import reader_setting

    return [a.model_dump(mode="json", include={"id", "title", "text", "date", "url", "source"})
            for a in reader_setting(data, "test").articles]


def _chat_row(data: Path) -> Row:
    """The held-out chat set over its corpus, on the files of it that exist (others write them)."""
    present = tuple(f for f in CHAT if (_bench.REPO / f).exists())
    absent = ", ".join(f for f in CHAT if f not in present)
    name = "chat (held-out half)"
    if not present:
        return Row(name, note=f"skipped: {absent} absent")
    corpus = ("--articles", *_shared(data, REUTERS), "--distractors", "sample/articles",
              str(_bench.require(data.parent / SEED)), *_shared(data, BBC))
    return Row(name, (*present, *corpus), note=f"without {absent} (absent)" if absent else None)


def _chat_collection_rows(data: Path) -> dict[str, Row]:
    """The held-out chat questions with one collection indexed alone, as a user indexes their own: questions
    about the others are then off-corpus and should be refused."""
    questions = CHAT[0]
    if not (_bench.REPO / questions).exists():
        return {}
    seed = str(_bench.require(data.parent / SEED))
    return {"chat-sample": Row("chat, sample alone (15 articles)", (questions, "--distractors", "sample/articles")),
            "chat-seed": Row("chat, seed page alone", (questions, "--distractors", seed)),
            "chat-news": Row("chat, BBC + Reuters alone", (questions, "--articles", *_shared(data, REUTERS),
                                                          "--distractors", *_shared(data, BBC)))}


def run_eval(row: Row, index_root: Path, limit: int | None, backend: str, reader: bool) -> dict:
    """One `newsdesk eval --json` run as a subprocess, exactly as a user would start it."""
    cmd = [sys.executable, "-m", "bot.cli", "eval", *row.args, "--json"]
    cmd += ["--index", str(index_root / row.shares)] if row.shares else []
    cmd += ["--limit", str(limit)] if limit else []
    env = {**os.environ, "NEWSDESK_BACKEND": backend, "NEWSDESK_READER": str(reader).lower()}
    out = subprocess.run(cmd, cwd=_bench.REPO, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"newsdesk eval failed on {row.name}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(row: Row, index_root: Path, limit: int | None, backend: str, reader: bool) -> dict:
    """A table row: the eval's figures and its wall time, or the reason it was skipped."""
    if not row.args:
        return {"set": row.name, **dict.fromkeys(COLUMNS), "seconds": None, "note": row.note}
    seconds, report = _bench.timed(run_eval, row, index_root, limit, backend, reader)
    result = {"set": row.name, **{c: report.get(c) for c in COLUMNS}, "seconds": round(seconds),
              **({"note": row.note} if row.note else {})}
    # Each row as it ends, so an interrupted run keeps what it measured.
    print(f"{row.name}: {seconds:.0f} s {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main() -> int:
    p = _bench.parser(__doc__.splitlines()[0], "ask only the first N questions of each set")
    p.add_argument("--only", metavar="KEY[,KEY]", help="run only these rows: reqa, reqa-unseen, off-corpus, squad2, "
                   "chat, chat-sample, chat-seed, chat-news, reader, wikiqa, wikiqa-dense, trecqa, trecqa-dense, size-1, "
                   "size-4, size-24, size-48")
    _bench.add_reader_option(p)
    args = p.parse_args()
    table = rows(args.data)
    keys = args.only.split(",") if args.only else list(table)
    unknown = [k for k in keys if k not in table]
    if unknown:
        sys.exit(f"unknown row {', '.join(unknown)}; the rows are {', '.join(table)}")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-quality-") as scratch:
        results = [measure(table[k], Path(scratch), args.limit, args.backend, args.reader) for k in keys]
    _bench.emit("quality", results, args.json, backend=args.backend, reader=args.reader, limit=args.limit,
                seconds=round(time.perf_counter() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
