"""`newsdesk` and its subcommands: index, ask, repl, show, stats, compact, add, telegram, serve here; eval in
bot/eval_command.py, feeds and update in bot/feed_commands.py."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bot import eval_command, feed_commands
from bot.cli_options import filters_from, parse_day, print_report
from bot.settings import Settings
from bot.wiring import add_url, open_pipeline
from embeddings.encoder import DEVICES

LOCAL_RAY = ":local:"  # `--ray` given without an address: a Ray started for this run

DESCRIPTION = """Ask questions of a collection of news articles. Every answer is made of sentences
quoted verbatim from the articles, each with a citation you can check."""

EPILOG = """examples:
  newsdesk index ~/news                 index a folder (.jsonl .html .htm .txt .md)
  newsdesk index ~/news --ray HOST:PORT  the same, embedded on a Ray cluster
  newsdesk ask "Who won the election?"  answer one question
  newsdesk repl                         chat with the articles
  newsdesk serve                        the web page and HTTP API at http://127.0.0.1:8080/
  newsdesk feeds add https://site/feed  follow a feed; `newsdesk update` indexes its new stories
settings come from NEWSDESK_* environment variables or a .env file (NEWSDESK_INDEX, ...)"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; heavy modules are imported only by the command that runs."""
    parser = argparse.ArgumentParser(prog="newsdesk", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    index_opt = argparse.ArgumentParser(add_help=False)
    index_opt.add_argument("--index", type=Path, help="index directory (default: $NEWSDESK_INDEX, "
                           "else ~/.local/share/newsdesk/index)")
    filter_opt = argparse.ArgumentParser(add_help=False)
    filter_opt.add_argument("--since", type=parse_day, metavar="DATE", help="only articles dated on or after DATE")
    filter_opt.add_argument("--until", type=parse_day, metavar="DATE", help="only articles dated on or before DATE")
    filter_opt.add_argument("--source", help="only articles from this source (e.g. DW)")
    filter_opt.add_argument("--as-of", type=parse_day, metavar="DATE", dest="as_of",
                            help='resolve time words ("yesterday", "in March", "latest") against DATE, not today')
    json_opt = argparse.ArgumentParser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", parents=[index_opt, json_opt], help="add or update articles in the index",
                       description="Index files and folders; only new or changed articles are embedded, "
                                   "and articles whose files are gone from a given folder are removed.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--rebuild", action="store_true", help="start the index afresh (e.g. after a model change)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const=LOCAL_RAY, metavar="ADDRESS",
                   help="split and embed on a Ray cluster: its address (host:port), 'auto' for the cluster this "
                        "machine is in, or nothing (put it after the paths) to start a local Ray for this run "
                        "(needs newsdesk[ray])")
    p.add_argument("--device", choices=DEVICES, default="cpu",
                   help="where the model runs: cpu (default) or cuda (a GPU; with onnx backends, onnxruntime-gpu)")

    p = sub.add_parser("ask", parents=[index_opt, json_opt, filter_opt], help="answer a question",
                       description="Answer a question; with --json and no question, answer JSONL "
                                   'lines {"id", "question", "as_of"?} from stdin, one JSON answer per line.')
    p.add_argument("question", nargs="?")
    p.add_argument("--top", type=int, help="up to N answer sentences (default 3)")
    p.add_argument("--no-abstain", action="store_true", help="always return the ranked sentences")

    p = sub.add_parser("add", parents=[index_opt, json_opt], help="fetch a web page and index its article")
    p.add_argument("url", metavar="URL")

    eval_command.add_parser(sub, json_opt, filter_opt)

    sub.add_parser("repl", parents=[index_opt, filter_opt], help="chat with the articles in the terminal")
    p = sub.add_parser("show", parents=[index_opt, json_opt], help="print a stored article's text")
    p.add_argument("article_id", metavar="ARTICLE_ID")
    sub.add_parser("stats", parents=[index_opt, json_opt], help="what the index holds")
    sub.add_parser("compact", parents=[index_opt], help="merge the index's segments into one",
                   description="Merge every segment of the index into one, dropping the vectors of deleted "
                               "articles. Writes merge small segments by themselves; this is for a quiet "
                               "moment, e.g. after removing many articles.")
    _add_service_parsers(sub, index_opt)
    feed_commands.add_parsers(sub, index_opt, json_opt)
    return parser


def _add_service_parsers(sub, index_opt: argparse.ArgumentParser) -> None:
    """The long-running commands: `telegram` and `serve`."""
    p = sub.add_parser("telegram", parents=[index_opt], help="run the Telegram bot (long polling)",
                       description="Answer questions in Telegram chats until stopped (Ctrl-C or SIGTERM). "
                                   "The token comes from TELEGRAM_BOT_TOKEN (environment or .env); "
                                   "NEWSDESK_ALLOWED_USERS lists who may use the bot.")
    p.add_argument("--base-url", help="another Bot API server, e.g. http://127.0.0.1:8081/bot "
                   "(default: $NEWSDESK_TELEGRAM_BASE_URL, else Telegram's)")
    p.add_argument("--public", action="store_true", help="let anyone ask (without an allow-list)")
    p.add_argument("--update-every", type=feed_commands.duration, metavar="DURATION",
                   help="also update the followed feeds every DURATION (e.g. 15m), as `newsdesk update` does")
    p = sub.add_parser("serve", parents=[index_opt], help="serve the HTTP API and the web page",
                       description="Answer over HTTP until stopped (Ctrl-C or SIGTERM): the web page at /, "
                                   "POST /api/ask, GET /api/articles/ID, /api/stats, /api/health, and the "
                                   "OpenAPI schema at /openapi.json. Listening beyond this machine needs an "
                                   "API token (NEWSDESK_API_TOKEN, sent as Authorization: Bearer) or --public.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--public", action="store_true", help="let anyone reach the API without a token")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `newsdesk` command."""
    args = build_parser().parse_args(argv)
    settings = Settings()
    if getattr(args, "index", None):
        settings.index = args.index
    from embeddings.storage.store import IndexError_

    try:
        return COMMANDS[args.command](args, settings)
    except IndexError_ as exc:
        print(f"newsdesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def cmd_index(args, settings: Settings) -> int:
    """Index paths; problems go to stderr by file name. Exit code 1 for a missing path, or when nothing was
    found to index (an empty folder) and nothing changed."""
    from embeddings.encoder import DeviceUnavailable, make_encoder
    from embeddings.indexer import Indexer
    from embeddings.loaders import SUFFIXES
    from embeddings.ray_build import ClusterError, RayEmbedder

    cluster = None if args.ray is None else RayEmbedder(None if args.ray == LOCAL_RAY else args.ray,
                                                         settings.backend, args.device)
    indexer = Indexer(settings.index, make_encoder(settings.backend, device=args.device),
                      show_progress=not args.quiet, cluster=cluster)
    existing = [p for p in args.paths if p.exists()]
    found: dict[Path, int] = {}
    try:
        if cluster is not None:
            cluster.check()
        report = indexer.run(_counted(args.paths, int(settings.max_file_mb * 2**20), found), prune=existing,
                             rebuild=args.rebuild)
    except (ClusterError, DeviceUnavailable) as exc:
        print(f"newsdesk index: {exc}; the index is unchanged", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    for path in existing:
        if not found.get(path):
            print(f"no articles found in {path} (looked for {', '.join(sorted(SUFFIXES))})", file=sys.stderr)
    if args.json:
        print(json.dumps({**report.__dict__, "problems": [str(p) for p in report.problems]}))
    else:
        print(f"{settings.index}: {report.summary()}")
    nothing = not any(found.values()) and not report.removed
    return 0 if len(existing) == len(args.paths) and not nothing else 1


def _counted(paths: list[Path], max_bytes: int, found: dict[Path, int]):
    """load_paths over `paths`, counting into `found` how many articles each path gave."""
    from embeddings.loaders import Problem, load_paths

    for path in paths:
        for item in load_paths([path], max_bytes):
            found[path] = found.get(path, 0) + (not isinstance(item, Problem))
            yield item


def cmd_add(args, settings: Settings) -> int:
    """`newsdesk add URL`: the page's title and how many sentences were indexed."""
    from embeddings.fetch import FetchError

    try:
        article, report = add_url(args.url, settings)
    except FetchError as exc:
        print(f"newsdesk add: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"id": article.id, "title": article.title, "sentences": report.sentences}))
    else:
        print(f"added “{article.title}” ({report.sentences} sentences) to {settings.index}")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    """One question, or a JSONL batch from stdin with --json and no question."""
    from bot import render

    pipeline, top = _pipeline_with_articles(settings), args.top or settings.top
    if args.question is None:
        if not args.json:
            print("newsdesk ask: give a QUESTION, or --json to read JSONL questions from stdin", file=sys.stderr)
            return 2
        return _ask_batch(pipeline, top, not args.no_abstain, filters_from(args), args.as_of)
    answer = pipeline.ask(args.question, top=top, abstain=not args.no_abstain, filters=filters_from(args),
                          as_of=args.as_of)
    tty = sys.stdout.isatty()
    print(render.to_json(answer) if args.json else
          render.to_text(answer, colour=tty, width=shutil.get_terminal_size().columns - 1 if tty else None))
    return 0


def _ask_batch(pipeline, top: int, abstain: bool, filters, as_of) -> int:
    """Answer every {"id", "question", "as_of"?} line of stdin; a bad line gets an error object, not a crash."""
    from bot import render

    status = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = str(record["question"])
            asked_on = parse_day(record["as_of"]) if record.get("as_of") else as_of
        except (ValueError, KeyError, TypeError, argparse.ArgumentTypeError) as exc:
            print(json.dumps({"line": number, "error": f"expected {{\"id\", \"question\", \"as_of\"?}}: {exc}"}),
                  flush=True)
            status = 1
            continue
        answer = pipeline.ask(question, top=top, abstain=abstain, filters=filters, as_of=asked_on)
        print(render.to_json(answer, id=record.get("id")), flush=True)
    return status


def cmd_repl(args, settings: Settings) -> int:
    from bot.repl import run_repl

    return run_repl(_pipeline_with_articles(settings), top=settings.top, filters=filters_from(args), as_of=args.as_of)


def _pipeline_with_articles(settings: Settings):
    """The pipeline to ask questions of; an index with no articles is an error that says what to do."""
    from embeddings.storage.store import IndexError_

    pipeline = open_pipeline(settings)
    if not pipeline.stats()["articles"]:
        raise IndexError_(f"the index at {settings.index} has no articles: add some with "
                          f"`newsdesk index PATH --index {settings.index}`")
    return pipeline


def cmd_show(args, settings: Settings) -> int:
    """The stored cleaned text, so anyone can check text[start:end] against a quote."""
    article = open_pipeline(settings).article(args.article_id)
    if article is None:
        print(f"newsdesk: no article {args.article_id!r} in {settings.index}", file=sys.stderr)
        return 1
    if args.json:
        from retrieval.models import StoredArticle

        print(StoredArticle.of(article).model_dump_json())
    else:
        meta = [article.source, article.date and article.date.isoformat(), article.url]
        print(f"{article.title}\n{' · '.join(m for m in meta if m)}\n\n{article.text}")
    return 0


def cmd_stats(args, settings: Settings) -> int:
    """Counts, model and size on disk of the index."""
    from embeddings.storage.reader import IndexReader

    print_report(IndexReader.open(settings.index).stats(), args.json)
    return 0


def cmd_compact(args, settings: Settings) -> int:
    """Merge every segment into one, as a write like any other (the lock, one commit)."""
    from embeddings.storage.reader import IndexReader
    from embeddings.storage.store import manifest_backend
    from embeddings.storage.writer import IndexWriter

    before = IndexReader.open(settings.index)  # refuses a missing or damaged index before writing anything
    before.close()
    deleted = before.sentence_vectors.skipped + before.passage_vectors.skipped
    if before.segments <= 1 and not deleted:
        print(f"{settings.index}: already one segment with nothing deleted; nothing to do")
        return 0
    saved = before.manifest
    with IndexWriter(settings.index, saved["model"], saved["dim"], backend=manifest_backend(saved)) as writer:
        writer.commit(merge_all=True)
    after = IndexReader.open(settings.index).stats()
    print(f"{settings.index}: {before.segments} segment{'s' * (before.segments != 1)} merged into one, "
          f"{deleted} deleted vectors dropped; {after['articles']} articles, {after['size_bytes'] / 2**20:.1f} MB")
    return 0


def cmd_telegram(args, settings: Settings) -> int:
    """Run the Telegram bot until it is stopped."""
    from bot.telegram import run_bot

    if args.base_url:
        settings.telegram_base_url = args.base_url
    return run_bot(settings, public=args.public, update_every=args.update_every)


def cmd_serve(args, settings: Settings) -> int:
    """Run the HTTP API and web page until stopped."""
    from bot.serve import run_server

    return run_server(settings, args.host, args.port, public=args.public)


COMMANDS = {"index": cmd_index, "add": cmd_add, "ask": cmd_ask, "eval": eval_command.cmd_eval, "repl": cmd_repl,
            "show": cmd_show, "stats": cmd_stats, "compact": cmd_compact, "telegram": cmd_telegram,
            "serve": cmd_serve, "feeds": feed_commands.cmd_feeds, "update": feed_commands.cmd_update}

if __name__ == "__main__":
    sys.exit(main())
