"""all-MiniLM-L6-v2 through ONNX Runtime: faster than PyTorch, and no torch import at query time.

The packaged weights are exported to ONNX once (offline, with torch, which is installed anyway) and
cached under $XDG_CACHE_HOME/newsdesk/onnx/; running the exported model needs only onnxruntime and
tokenizers. The "onnx-int8" backend runs an int8 copy (static quantisation, made once beside it):
1.8 times the throughput at the same MRR (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings.packaged_model import (
    MODEL_DIM, MODEL_NAME, DeviceUnavailable, cpu_cores, packaged_model_path, sorted_batches,
)

OPSET = 17
# What sentence-transformers reads from the model's sentence_bert_config.json (max_seq_length).
MAX_TOKENS = 256
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Token budget per batch, as tokens per row: 64 rows of up to 48 tokens (most news sentences), fewer when longer.
PADDED_TOKENS = 48
# Sentences and questions on which the int8 model's activation ranges are measured, once.
CALIBRATION_TEXT = Path(__file__).with_name("calibration.txt")


def cache_dir() -> Path:
    """Where exported models live: $XDG_CACHE_HOME/newsdesk/onnx, i.e. ~/.cache/newsdesk/onnx."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "newsdesk" / "onnx"


def exported_model(model_dir: Path, cache: Path | None = None) -> Path:
    """The cached ONNX file for the weights in `model_dir`, exported first if absent (written aside, renamed)."""
    name = f"{MODEL_NAME.rsplit('/', 1)[-1]}-{_weights_key(model_dir)}-opset{OPSET}.onnx"
    target = (cache or cache_dir()) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            export_onnx(Path(model_dir), scratch)
            os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
    return target


def quantized_model(fp32: Path, tokenizer) -> Path:
    """The int8 copy of an exported model, made once beside it (written aside, renamed).

    Static quantisation: weights per channel, and each MatMul input scaled by a range measured once on
    CALIBRATION_TEXT, so a sentence's vector never depends on the batch it is embedded in (dynamic
    quantisation scales each batch by its own largest value). MatMul outputs stay float: quantising them
    as well cost most of the accuracy (docs/benchmarks.md).
    """
    target = fp32.with_name(f"{fp32.stem}-int8-static.onnx")
    if not target.exists():
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        class Calibration(CalibrationDataReader):
            def __init__(self):
                self.inputs = _calibration_inputs(tokenizer)

            def get_next(self) -> dict | None:
                return next(self.inputs, None)

        scratch = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            with _quiet_root_logger():
                quantize_static(str(fp32), str(scratch), Calibration(), quant_format=QuantFormat.QDQ,
                                per_channel=True, op_types_to_quantize=["MatMul"],
                                nodes_to_quantize=_weight_matmuls(fp32), activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8,
                                extra_options={"OpTypesToExcludeOutputQuantization": ["MatMul"]})
            os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
    return target


def _calibration_inputs(tokenizer) -> Iterator[dict[str, np.ndarray]]:
    """Model inputs for each calibration line, one sentence at a time so no padding enters the ranges."""
    lines = CALIBRATION_TEXT.read_text(encoding="utf-8").splitlines()
    for line in lines:
        if line and not line.startswith("#"):
            yield model_inputs([tokenizer.encode(line).ids])


def _weight_matmuls(model: Path) -> list[str]:
    """The MatMul nodes that multiply by a weight matrix (not the attention's activation × activation ones)."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    return [node.name for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights]


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's quantiser advises on the root logger; keep that off the user's terminal."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [logging.NullHandler()]
    try:
        yield
    finally:
        root.handlers = saved


def _weights_key(model_dir: Path) -> str:
    """Identify the weights by path, size and mtime: hashing 90 MB would cost 0.3 s on every start."""
    weights = Path(model_dir) / "model.safetensors"
    stat = weights.stat()
    return hashlib.sha256(f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]


def export_onnx(model_dir: Path, target: Path) -> None:
    """Trace the transformer (token ids → last hidden state) into an ONNX file with dynamic batch and length."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    trace_to_onnx(AutoModel.from_pretrained(str(model_dir)).eval(), "last_hidden_state", target)


def trace_to_onnx(model, output: str, target: Path) -> None:
    """Trace a transformers model (the three token inputs → its `output`) into an ONNX file with dynamic batch
    and length: the encoder's export, and the trained scorer's (scripts/train_scorer.py)."""
    import warnings

    import torch

    class KeywordInputs(torch.nn.Module):
        """transformers 5 models take their inputs by keyword only; the exporter passes them by position."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return getattr(self.model(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids), output)

    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, output)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow that is constant here
        torch.onnx.export(KeywordInputs(model), example, str(target), input_names=list(INPUTS), output_names=[output],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)


class OnnxEncoder:
    """The same embedder as SentenceTransformerEncoder (cosine ≥ 0.9999 to its vectors), run by ONNX Runtime;
    with `int8`, its quantised copy (backend "onnx-int8": vectors close to the fp32 ones, cosine ≈ 0.99)."""

    name = MODEL_NAME
    dim = MODEL_DIM

    def __init__(self, batch_size: int = 64, model_path: str | None = None, cache: Path | None = None,
                 threads: int | None = None, int8: bool = False, device: str = "cpu"):
        self.backend = "onnx-int8" if int8 else "onnx"
        self.batch_size, self.threads, self.int8, self.device = batch_size, threads or cpu_cores(), int8, device
        self._model_path, self._cache = model_path, cache
        self._session = self._tokenizer = None

    def load(self) -> None:
        """Export the model if needed, then open the session and the tokenizer."""
        if self._session is not None:
            return
        import onnxruntime
        from tokenizers import Tokenizer

        model_dir = Path(self._model_path or packaged_model_path())
        options = onnxruntime.SessionOptions()
        # One pool of threads, one per core: torch, FAISS and the tokenizer never run beside it.
        options.intra_op_num_threads, options.inter_op_num_threads = self.threads, 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads sleep instead of spinning, leaving the indexer's splitting thread a core to run on.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        model = exported_model(model_dir, self._cache)
        model = quantized_model(model, tokenizer) if self.int8 else model
        self._session = onnxruntime.InferenceSession(str(model), options, providers=_providers(self.device))
        self._tokenizer = tokenizer

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed texts in batches of similar length (little padding), reporting progress after each batch."""
        self.load()
        tokens = [t.ids for t in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows in sorted_batches([len(t) for t in tokens], self.batch_size, self.batch_size * PADDED_TOKENS):
            out[rows] = self._embed([tokens[i] for i in rows])
            if progress:
                progress(len(rows))
        return out

    def _embed(self, token_ids: list[list[int]]) -> np.ndarray:
        """One padded batch through the model, mean-pooled over real tokens and L2-normalised."""
        inputs = model_inputs(token_ids)
        hidden = self._session.run(None, inputs)[0]
        mask = inputs["attention_mask"]
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _providers(device: str) -> list[str]:
    """ONNX Runtime's providers for a device: CUDA needs the onnxruntime-gpu package, and says so."""
    if device != "cuda":
        return ["CPUExecutionProvider"]
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise DeviceUnavailable("--device cuda needs onnxruntime-gpu in place of onnxruntime "
                                "(pip uninstall onnxruntime && pip install onnxruntime-gpu) and a GPU")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def model_inputs(token_ids: list[list[int]]) -> dict[str, np.ndarray]:
    """Token ids padded into one batch, with the attention mask that marks the real tokens."""
    ids = np.zeros((len(token_ids), max(map(len, token_ids))), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, seq in enumerate(token_ids):
        ids[row, : len(seq)], mask[row, : len(seq)] = seq, 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
