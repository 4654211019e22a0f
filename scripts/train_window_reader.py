"""Train the window reader, the second reader shape, and compare it with the cross-encoder on held-out questions.

The cross-encoder (retrieval/scorer.py, scripts/train_scorer.py) reads one candidate at a time. The window
reader reads the question beside a window of the article (headline, then its sentences from the first to the
last candidate: scripts/_window_data.py) and gives each sentence a logit and the window one for "none of them":
an extractive reader whose spans are whole sentences, so it sees the sentence naming the subject beside the
one holding what was asked. Same start (the packaged MiniLM's first --layers layers, word embeddings frozen),
same sources and the same bounded budget (--max-minutes), so the held-out numbers can decide between them.

Reported (never fitted): among the ranker's first 10 candidates, P@1 of the ranker, the cross-encoder (the
shipped retrieval/scorer.onnx), the window reader, and of rank sums of them; the combination is chosen on the
reader questions' calibrate part and reported on the chat and reader test parts; AUC of each best score for
answerable against unanswerable questions. Writes --out/window_reader.json (settings, data hashes, figures)
and the checkpoint; nothing in retrieval/. --tiny: a 1-layer model on the sample corpus, in under a minute.
Usage: python scripts/train_window_reader.py [--max-minutes 60] [--epochs 1] [--device cuda]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

from _training import DEFAULT_DATA, REPO
from _reader_training import HEAD_LR, auc, masked_mean, pretrained_encoder, rounded_mean, train_loop
import _scorer_data as sd
import _window_data as wd
import train_scorer

MAX_TOKENS = 256
OTHER_WINDOWS = 2  # windows without the gold read per question besides the gold one (first by the ranker)
COMBINATIONS = {"cross": ("cross",), "window": ("window",), "ranker+cross": ("ranker", "cross"),
                "ranker+window": ("ranker", "window"), "cross+window": ("cross", "window"),
                "ranker+cross+window": ("ranker", "cross", "window")}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared evaluation data folder")
    parser.add_argument("--work", type=Path, default=REPO / ".newsdesk" / "train-scorer",
                        help="indexes, mined windows and checkpoints (shared with train_scorer.py)")
    parser.add_argument("--out", type=Path, default=REPO / ".newsdesk" / "window-reader", help="where the report goes")
    parser.add_argument("--tiny", action="store_true", help="a 1-layer model on the sample's questions, in seconds")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=60, help="stop this run's training after this long")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, help="torch threads (default: the cores)")
    args = parser.parse_args(argv)
    args.sources = ["sample"] if args.tiny else train_scorer.SOURCES
    args.layers = 1 if args.tiny else args.layers
    args.held_out = ["sample-test"] if args.tiny else ["reader-calibrate", "chat-test", "reader-test"]
    return args


def held_out_setting(data: Path, name: str):
    """The held-out parts over the same indexes as train_scorer.py's (the calibrate part beside the test part)."""
    if name == "reader-calibrate":
        return sd.reader_setting(data, "calibrate")
    return train_scorer.held_out_setting(data, name)


def build_model(layers: int, seed: int):
    """MiniLM's first `layers` layers; a sentence's logit from the mean of its tokens, "none" from the window's."""
    import torch

    class WindowReader(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = pretrained_encoder(layers)
            self.sentence = torch.nn.Linear(self.encoder.config.hidden_size, 1)
            self.none = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids, members):
            """Logits (batch, 1 + sentences): "none of them" first; members (batch, sentences, tokens) in 0/1."""
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            counts = members.sum(-1, keepdim=True)
            sentences = self.sentence(members @ hidden / counts.clamp(min=1)).squeeze(-1)
            none = self.none(masked_mean(hidden, attention_mask))
            return torch.cat([none, sentences.masked_fill(counts.squeeze(-1) == 0, -1e4)], 1)

    torch.manual_seed(seed)
    return WindowReader()


def window_tokenizer():
    """The scorer's tokenizer, cutting only the window (never the question) past MAX_TOKENS."""
    from retrieval.scorer import pair_tokenizer

    return pair_tokenizer(MAX_TOKENS, "only_second")


def encode(tokenizer, items: list[tuple[str, wd.Window]]) -> tuple[dict, np.ndarray]:
    """The model's inputs for (question, window) items, and which sentence each token belongs to (-1: none)."""
    texts, spans = [], []
    for _, window in items:
        text, starts = window.title + ".", []
        for sentence in window.sentences:
            starts.append((len(text) + 1, len(text) + 1 + len(sentence)))
            text += " " + sentence
        texts.append(text)
        spans.append(starts)
    encoded = tokenizer.encode_batch([(q, t) for (q, _), t in zip(items, texts)])
    width = max(len(w.sentences) for _, w in items)
    members = np.zeros((len(items), width, len(encoded[0].ids)), dtype=np.float32)
    for b, (e, starts) in enumerate(zip(encoded, spans)):
        for t, (sequence, (a, _)) in enumerate(zip(e.sequence_ids, e.offsets)):
            if sequence == 1:
                j = next((j for j, (s, end) in enumerate(starts) if s <= a < end), None)
                if j is not None:
                    members[b, j, t] = 1.0
    inputs = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
              "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
              "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}
    return inputs, members


def examples(mined: list[wd.Mined], seed: int) -> list[tuple[str, wd.Window]]:
    """(question, window): the first window holding gold and OTHER_WINDOWS others, each source repeated as
    train_scorer.REPEAT says, shuffled."""
    out = []
    for m in mined:
        gold = [w for w in m.windows if any(w.gold)][:1]
        others = sorted((w for w in m.windows if not any(w.gold)),  # each holds a candidate: first by the best
                        key=lambda w: min(r for r in w.rank if r >= 0))[:OTHER_WINDOWS]
        out.extend([(m.question, w) for w in gold + others] * train_scorer.REPEAT.get(m.source, 1))
    random.Random(seed).shuffle(out)
    return out


def train(model, items: list, args, checkpoint: Path) -> dict:
    """Fit by the log-likelihood of the window's gold sentences (or of "none" when it holds none)."""
    import torch

    tokenizer = window_tokenizer()

    def loss_of(batch: list, device) -> "torch.Tensor":
        inputs, members = encode(tokenizer, batch)
        logits = model(**{k: torch.from_numpy(v).to(device) for k, v in inputs.items()},
                       members=torch.from_numpy(members).to(device))
        gold = torch.zeros_like(logits, dtype=torch.bool)
        for b, (_, window) in enumerate(batch):
            read = [j for j, g in enumerate(window.gold) if g and members[b, j].any()]
            gold[b, [1 + j for j in read] or [0]] = True
        return (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~gold, -1e4), 1)).mean()

    return train_loop(model, items, loss_of, args, checkpoint)


def window_scores(model, m: wd.Mined, tokenizer) -> np.ndarray:
    """Each candidate's sentence logit less its window's "none" logit (-inf for a candidate cut off)."""
    import torch

    scores = np.full(len(m.labels), -np.inf)
    if not m.windows:
        return scores
    inputs, members = encode(tokenizer, [(m.question, w) for w in m.windows])
    with torch.no_grad():
        logits = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, members=torch.from_numpy(members)).numpy()
    for b, window in enumerate(m.windows):
        for j, rank in enumerate(window.rank):
            if rank >= 0 and members[b, j].any():
                scores[rank] = logits[b, 1 + j] - logits[b, 0]
    return scores


def compare(model, held: dict[str, list[wd.Mined]], cross) -> dict:
    """Per held-out set: P@1 among the candidates of the ranker, each reader and each rank sum; the best
    score's AUC (answerable vs unanswerable) of each reader; the combination chosen on the first set."""
    tokenizer = window_tokenizer()
    report = {}
    for name, mined in held.items():
        columns = [{"ranker": -np.arange(len(m.labels), dtype=float), "window": window_scores(model, m, tokenizer),
                    "cross": cross.score_texts(m.question, m.texts) if m.texts else np.zeros(0)} for m in mined]
        answerable = [(m, c) for m, c in zip(mined, columns) if not m.impossible and m.labels]
        figures = {"questions": len(answerable),
                   "gold_in_candidates": rounded_mean([any(m.labels) for m, _ in answerable]),
                   "p1": {k: rounded_mean([m.labels[int(np.argmax(combined(c, parts)))] for m, c in answerable])
                          for k, parts in {"ranker": ("ranker",), **COMBINATIONS}.items()}}
        impossible = [c for m, c in zip(mined, columns) if m.impossible and m.labels]
        if impossible and answerable:
            figures["unanswerable"] = len(impossible)
            figures["best_auc"] = {k: auc([float(np.max(c[k])) for _, c in answerable],
                                           [float(np.max(c[k])) for c in impossible]) for k in ("cross", "window")}
        report[name] = figures
    first = report[next(iter(held))]["p1"]
    return {"sets": report, "chosen_on": next(iter(held)), "chosen": max(COMBINATIONS, key=lambda k: first[k])}


def combined(columns: dict[str, np.ndarray], parts: tuple[str, ...]) -> np.ndarray:
    """Higher is better: minus the sum of each part's rank (0: its best), ties kept in the ranker's order."""
    total = np.zeros(len(columns["ranker"]))
    for part in parts:
        total += np.argsort(np.argsort(-columns[part], kind="stable"), kind="stable")
    return -total - 1e-3 * np.arange(len(total))


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    import torch

    from embeddings.encoder import make_encoder
    from retrieval.scorer import CARD_FILE, shipped_scorer

    torch.set_num_threads(args.threads or torch.get_num_threads())
    random.seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    encoder = make_encoder()
    fit = [m for s in sd.settings(args.data, args.sources) for m in wd.mine(args.work, s, encoder, with_gold=True)]
    held = {name: wd.mine(args.work, held_out_setting(args.data, name), encoder, with_gold=False) for name in args.held_out}
    items = examples(fit, args.seed)
    print(f"mined {len(fit)} questions, {len(items)} windows", flush=True)
    settings = {k: getattr(args, k) for k in ("layers", "epochs", "batch", "lr", "seed", "sources", "device")}
    tag = hashlib.sha256(json.dumps([settings, len(items)]).encode()).hexdigest()[:12]
    model = build_model(args.layers, args.seed)
    done = train(model, items, args, args.work / f"window-{tag}.pt")
    report = compare(model.eval(), held, shipped_scorer())
    card = {"model": "window reader: question vs. headline + the article's sentences from the first to the last "
                     "candidate; a logit per sentence (mean of its tokens) and one for none of them",
            "base": f"sentence-transformers/all-MiniLM-L6-v2 (packaged), first {args.layers} layers, word embeddings frozen",
            "settings": {**settings, "head_lr": HEAD_LR, "max_tokens": MAX_TOKENS, "depth": wd.DEPTH,
                         "max_sentences": wd.MAX_SENTENCES, "other_windows": OTHER_WINDOWS, "repeat": train_scorer.REPEAT},
            "fitted_on": {"sources": args.sources, "questions": len(fit), "windows": len(items),
                          "files_sha256": sd.file_hashes(args.data, train_scorer.data_files(args))},
            "cross_encoder": {"file": "retrieval/scorer.onnx", "card_date": json.loads(CARD_FILE.read_text()).get("date"),
                              "shipped": json.loads(CARD_FILE.read_text())["held_out"]["shipped"]},
            "held_out": report, "training": done, "date": dt.date.today().isoformat()}
    print(json.dumps(card, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "window_reader.json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
