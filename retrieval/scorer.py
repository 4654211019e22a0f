"""A trained reader: how well each candidate sentence answers the question, read as a pair by a small cross-encoder.

The bi-encoder compares two vectors made apart; the scorer reads the question beside the sentence, its
headline and the sentence before it ("He said the cost ..." is judged with its subject), so it can learn
that "prices were cut by 24%" answers "how much cheaper is it now" and the lead sentence naming the story
does not. Fitted by scripts/train_scorer.py (scorer.json beside the weights says on what, and what it
scored); run by ONNX Runtime, so answering never imports torch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from embeddings.packaged_model import cpu_cores, packaged_model_path
from retrieval.words import normalise_question

MODEL_FILE = Path(__file__).with_name("scorer.onnx")
CARD_FILE = Path(__file__).with_name("scorer.json")
MAX_TOKENS = 128
SEPARATOR = " [SEP] "


@dataclass(frozen=True)
class Candidate:
    """What the scorer reads of one candidate: the sentence, its article's headline, the sentence before it."""

    text: str
    title: str = ""
    previous: str | None = None

    def pair_text(self) -> str:
        """The second half of the pair: the sentence first, so a long context is what truncation cuts."""
        return SEPARATOR.join([self.text, self.title, self.previous or ""])


class SentenceScorer:
    """Logits (higher reads more like an answer) for (question, candidate) pairs, from an ONNX cross-encoder."""

    def __init__(self, model_file: Path = MODEL_FILE, threads: int | None = None):
        self.model_file, self.threads = Path(model_file), threads or cpu_cores()
        self._session = self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.model_file.is_file()

    def load(self) -> None:
        """Open the ONNX session and the packaged model's tokenizer, once."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = self.threads, 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._tokenizer = pair_tokenizer()
            self._session = onnxruntime.InferenceSession(str(self.model_file), options,
                                                         providers=["CPUExecutionProvider"])

    def scores(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """One logit per candidate, in their order."""
        return self.score_texts(question, [c.pair_text() for c in candidates])

    def score_texts(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per pair text (Candidate.pair_text), in their order, read in one batch.

        The shipped weights compute in float32, where padding is masked out of the mean and a pair's logit does
        not depend on the pairs beside it (int8's dynamic quantisation scales activations over the whole batch,
        so there it would: train_scorer.py measures every copy as read here before choosing one to ship).
        """
        if not texts:
            return np.zeros(0, dtype=np.float32)
        self.load()
        question = normalise_question(question)
        logits = self._session.run(None, encode_pairs(self._tokenizer, [(question, text) for text in texts]))[0]
        return logits.reshape(-1).astype(np.float32)


def pair_tokenizer(max_tokens: int = MAX_TOKENS, strategy: str = "longest_first"):
    """The packaged MiniLM's word-piece tokenizer, truncating pairs to `max_tokens` (by default the longer text
    first; scripts/train_window_reader.py cuts only its window)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(packaged_model_path()) / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens, strategy=strategy)
    tokenizer.enable_padding()
    return tokenizer


def encode_pairs(tokenizer, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Padded input_ids, attention_mask and token_type_ids for (question, text) pairs."""
    encoded = tokenizer.encode_batch(list(pairs))
    return {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64)}


@lru_cache(maxsize=1)
def shipped_scorer() -> SentenceScorer | None:
    """The scorer shipped beside this module, or None when the package carries none."""
    scorer = SentenceScorer()
    return scorer if scorer.available else None


def model_card() -> dict:
    """What the shipped scorer was fitted on and what it scored (scorer.json)."""
    return json.loads(CARD_FILE.read_text()) if CARD_FILE.is_file() else {}
