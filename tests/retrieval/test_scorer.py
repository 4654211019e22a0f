"""The trained sentence scorer: its training script end to end on a tiny slice, the shipped weights, the pair format."""

import json
import subprocess
import sys

import numpy as np
import pytest

from retrieval.scorer import Candidate, SentenceScorer, model_card, shipped_scorer
from retrieval.words import normalise_question
from tests.conftest import REPO


def test_training_runs_end_to_end_on_a_tiny_slice(tmp_path):
    """Mine the sample's questions, train a 1-layer model, export it (fp32, int8, float16 weights), score
    held-out questions."""
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "train_scorer.py"), "--tiny", "--out", str(out),
                             "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((out / "scorer.json").read_text())
    assert card["training"]["steps"] == card["training"]["planned_steps"] > 0
    assert card["held_out"]["fp32"]["sample-test"]["questions"] > 20
    assert set(card["fitted_on"]["files_sha256"]) and card["held_out"]["shipped"] in ("fp32", "int8", "fp16")
    scores = SentenceScorer(out / "scorer.onnx").scores("who founded kestrel robotics",
                                                        [Candidate("Kestrel was founded in 2022.", "Kestrel Robotics"),
                                                         Candidate("It rained.", "Weather", "A storm came.")])
    assert scores.shape == (2,) and np.isfinite(scores).all()
    # The float16 copy is half the file and reads as fp32 does: its weights rounded once, its arithmetic float32.
    assert card["held_out"]["bytes"]["fp16"] < 0.6 * card["held_out"]["bytes"]["fp32"]
    read = [Candidate("Kestrel was founded in 2022.", "Kestrel Robotics")]
    half, full = (SentenceScorer(tmp_path / "work" / f"scorer-{kind}.onnx").scores("who founded kestrel robotics", read)
                  for kind in ("fp16", "fp32"))
    assert np.allclose(half, full, atol=1e-2) and not np.array_equal(half, full), (half, full)
    # A longer run starts from this one's weights with a schedule and a mix of its own, and its card says so.
    [first] = (tmp_path / "work").glob("checkpoint-*.pt")
    pairs = card["fitted_on"]["pairs"]
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "train_scorer.py"), "--tiny", "--out", str(out),
                             "--work", str(tmp_path / "work"), "--init-from", str(first), "--lr", "1e-5",
                             "--repeat", "sample=2"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((out / "scorer.json").read_text())
    assert card["settings"]["init_from"].startswith(first.name) and card["training"]["steps"] > 0
    assert card["settings"]["repeat"]["sample"] == 2 and card["fitted_on"]["pairs"] == 2 * pairs
    assert len(list((tmp_path / "work").glob("checkpoint-*.pt"))) == 2, "its own checkpoint, the first one kept"


def test_a_run_can_start_from_the_shipped_onnx_weights(monkeypatch):
    """A fresh clone has no checkpoint: training longer starts from the exported scorer.onnx, its weights read
    back into the PyTorch model, which then scores as ONNX Runtime does."""
    import torch

    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from _reader_training import start_from
    from retrieval.scorer import encode_pairs, pair_tokenizer
    from train_scorer import build_model

    read = [Candidate("Kestrel was founded in 2022 by Aisha Montrose.", "Kestrel Robotics"),
            Candidate("It rained all week.", "Weather", "A storm came.")]
    inputs = encode_pairs(pair_tokenizer(), [("who founded kestrel robotics", c.pair_text()) for c in read])

    def logits_of(model) -> np.ndarray:
        with torch.no_grad():
            return model.eval()(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.view(-1).numpy()

    layers = model_card()["settings"]["layers"]
    model = build_model(layers, seed=1)
    assert start_from(model, REPO / "retrieval" / "scorer.onnx").startswith("scorer.onnx (exported weights")
    logits = logits_of(model)
    assert np.allclose(logits, shipped_scorer().scores("who founded kestrel robotics", read), atol=1e-4)
    assert not np.allclose(logits, logits_of(build_model(layers, seed=1)))


def test_the_window_reader_trains_and_compares_on_a_tiny_slice(tmp_path):
    """The second reader shape: windows mined, a 1-layer model trained, compared with the shipped cross-encoder."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "train_window_reader.py"), "--tiny", "--out",
                             str(tmp_path / "out"), "--work", str(tmp_path / "work")],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads((tmp_path / "out" / "window_reader.json").read_text())
    figures = card["held_out"]["sets"]["sample-test"]
    assert card["training"]["steps"] == card["training"]["planned_steps"] > 0 and figures["questions"] > 20
    assert set(figures["p1"]) == {"ranker", "cross", "window", "ranker+cross", "ranker+window", "cross+window",
                                  "ranker+cross+window"}
    assert card["held_out"]["chosen"] in figures["p1"] and all(0 <= v <= 1 for v in figures["p1"].values())


def test_the_pair_text_puts_the_sentence_first():
    assert Candidate("He said it cost $5.", "Tram opens", "The mayor spoke.").pair_text() == \
        "He said it cost $5. [SEP] Tram opens [SEP] The mayor spoke."


@pytest.mark.parametrize("typed", ["How much does a tram ticket cost?", "how much does a tram ticket cost",
                                   "  how much does a  tram ticket cost ?! "])
def test_case_and_punctuation_read_the_same(typed):
    assert normalise_question(typed) == "how much does a tram ticket cost"


def test_the_shipped_scorer_ranks_a_known_answer_first():
    """The weights in the package read the sentence holding the asked thing above the story's lead and its
    neighbours (the issue's example: the lead names Kestrel, the founding sentence answers)."""
    scorer = shipped_scorer()
    assert scorer is not None, "retrieval/scorer.onnx is missing"
    title = "Kestrel Robotics to test delivery drones over Harrowgate Bay"
    candidates = [  # sentences 0, 6 and 5 of the sample article, each with the sentence before it
        Candidate("Kestrel Robotics, a start-up based in Harrowgate Bay, has won permission from the national aviation "
                  "authority to fly parcel-delivery drones over the town in a six-month trial starting on 1 April 2026.",
                  title),
        Candidate("It employs 31 people and raised $6 million from investors last year.", title,
                  "Kestrel was founded in 2022 by two former university engineers, Aisha Montrose and Felix Harland."),
        Candidate("Kestrel was founded in 2022 by two former university engineers, Aisha Montrose and Felix Harland.",
                  title, "The company says a delivery that takes 45 minutes by van should take about 12 minutes by air."),
    ]
    scores = scorer.scores("who started kestrel robotics", candidates)
    assert int(np.argmax(scores)) == 2, scores
    # Read in one batch, a candidate's logit does not depend on the candidates beside it (padding is masked).
    alone = [float(scorer.scores("who started kestrel robotics", [c])[0]) for c in candidates]
    assert np.allclose(scores, alone, atol=1e-4), (scores, alone)
