"""`newsdesk eval`: index QA files' articles, ask their questions and scripted conversations, print the figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli_options import filters_from, print_report
from bot.settings import Settings
from bot.wiring import scorer_reading


def add_parser(sub, json_opt: argparse.ArgumentParser, filter_opt: argparse.ArgumentParser) -> None:
    """The `eval` subcommand, on the CLI's subparsers."""
    p = sub.add_parser("eval", parents=[json_opt, filter_opt], help="measure answer quality on QA files (SQuAD schema)",
                       description="Index the contexts of QA files (paragraphs with the same context_title "
                                   "joined into one article; WikiQA/TrecQA-style records with sentence_starts "
                                   "give one paragraph per candidate sentence) and ask every question: P@1, R@5, "
                                   "MRR, citation accuracy, abstention and speed. Records with \"turns\" are "
                                   "scripted conversations, asked turn by turn in one chat each.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--limit", type=int, help="ask only the first N questions")
    p.add_argument("--index", type=Path, help="where to build (and reuse) the evaluation index (default: a temp dir)")
    p.add_argument("--articles", nargs="+", type=Path, default=[], metavar="CORPUS",
                   help="article files or folders that QA records without a context refer to by id (context_title)")
    p.add_argument("--articles-matching", metavar="REGEX",
                   help="also index the --articles whose title matches REGEX (same-subject distractors)")
    p.add_argument("--distractors", nargs="+", type=Path, default=[], metavar="CORPUS",
                   help="also index every article of these files or folders, asked about or not "
                        "(a realistic corpus around the questions' articles)")
    p.add_argument("--ignore-time", action="store_true",
                   help="read time words as plain words (to measure what the time handling adds)")
    p.add_argument("--baseline", choices=["dense"],
                   help="rank with plain cosine over all sentences instead of newsdesk (no BM25, ranker, "
                        "abstention or conversations): what newsdesk's ranking is measured against")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--half", action="store_true",
                      help="index every other article only (sorted by id); questions about the rest measure "
                           "how often newsdesk answers when the articles do not hold the answer")
    size.add_argument("--indexed", type=int, metavar="N",
                      help="index only N of the articles the questions are about (every k-th by sorted id); "
                           "ask all questions about them and a sample of the others")
    p.add_argument("--off-corpus-sample", type=int, default=600, metavar="M",
                   help="with --indexed, ask at most M questions about articles left out, spread evenly (default 600)")


def cmd_eval(args, settings: Settings) -> int:
    """Index the QA contexts (and any distractors), ask every question and scripted conversation, print the figures."""
    import tempfile

    from embeddings.encoder import make_encoder
    from embeddings.indexer import Indexer
    from retrieval.evaluate import evaluate

    missing = [str(f) for f in args.files if not f.is_file()]
    missing += [str(p) for p in args.articles + args.distractors if not p.exists()]
    if missing:
        print(f"newsdesk eval: no such file: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.baseline and not filters_from(args).is_empty():
        print("newsdesk eval: --baseline dense ranks by cosine alone and takes no --since/--until/--source",
              file=sys.stderr)
        return 2
    articles, questions, scripts = _eval_inputs(args)
    encoder = make_encoder(settings.backend)
    with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as scratch:
        root = args.index or Path(scratch) / "index"
        Indexer(root, encoder).run(articles, prune=[])
        with _question_bar(len(questions) + sum(len(s.turns) for s in scripts)) as bar:
            report = evaluate(_eval_asker(args, root, encoder, settings), questions, settings.min_confidence,
                              filters_from(args), indexed={a.id for a in articles}, progress=bar.update,
                              as_of=args.as_of, conversations=scripts).report()
    report |= {"articles": len(articles), "ranking": args.baseline or "newsdesk",
               "min_confidence": None if args.baseline else settings.min_confidence}
    print_report(report, args.json)
    return 0


def _eval_inputs(args) -> tuple[list, list, list]:
    """The articles to index and the questions and conversations to ask, as the eval flags choose them.

    --half and --indexed choose among the articles questions are about; distractors are always indexed.
    The dense baseline has no conversations to keep, so it is asked none.
    """
    from retrieval.evaluate import evenly, read_conversations, read_qa, sample_off_corpus

    articles, questions = read_qa(args.files)
    scripts = [] if args.baseline else read_conversations(args.files)
    wanted = {q.article_id for q in questions} | {t.article_id for s in scripts for t in s.turns}
    articles += _corpus_articles(args.articles, wanted, args.articles_matching)
    questions = questions[: args.limit] if args.limit else questions
    if args.half or args.indexed is not None:
        count = args.indexed if args.indexed is not None else (len(articles) + 1) // 2
        articles = evenly(sorted(articles, key=lambda a: a.id), count)
    articles = _first_of_each_id(articles + _load_articles(args.distractors))
    if args.indexed is not None:
        questions = sample_off_corpus(questions, {a.id for a in articles}, args.off_corpus_sample)
    return articles, questions, scripts


def _first_of_each_id(articles: list) -> list:
    """One article per id, the first given (a QA article before a distractor with its id)."""
    unique: dict = {}
    for article in articles:
        unique.setdefault(article.id, article)
    return list(unique.values())


def _eval_asker(args, root: Path, encoder, settings: Settings):
    """What answers the questions: the pipeline, or with --baseline dense plain cosine over the sentences."""
    if args.baseline == "dense":
        from retrieval.baseline import DenseBaseline

        return DenseBaseline(root, encoder)
    from retrieval.pipeline import Pipeline

    return Pipeline(root, encoder, min_confidence=settings.min_confidence, time_aware=not args.ignore_time,
                    reading=scorer_reading(settings))


def _load_articles(paths: list[Path]) -> list:
    """Every article under `paths` (unreadable files are skipped)."""
    from embeddings.loaders import load_paths
    from embeddings.models import Article

    return [a for a in load_paths(paths) if isinstance(a, Article)]


def _corpus_articles(paths: list[Path], wanted: set[str], matching: str | None) -> list:
    """The corpus articles that questions refer to, plus those whose title matches `matching`."""
    import re

    pattern = re.compile(matching, re.IGNORECASE) if matching else None
    return [a for a in _load_articles(paths) if a.id in wanted or (pattern is not None and pattern.search(a.title))]


def _question_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="question", desc="asking", file=sys.stderr, dynamic_ncols=True)


