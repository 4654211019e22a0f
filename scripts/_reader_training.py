"""What both reader shapes share (scripts/train_scorer.py, scripts/train_window_reader.py): the pretrained start,
the training loop (AdamW with linear warm-up and decay, gradient clipping, a checkpoint every 15 minutes that a
rerun resumes from) and the arithmetic of their held-out figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CHECKPOINT_SECONDS = 15 * 60
HEAD_LR = 1e-3  # the new heads learn at this rate, the pretrained layers at --lr


def pretrained_encoder(layers: int):
    """The packaged MiniLM's first `layers` transformer layers with its word embeddings frozen (half the
    parameters): where both shapes start, under heads of their own."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    from embeddings.packaged_model import packaged_model_path

    transformers_logging.set_verbosity_error()  # the layers left out are "unexpected" keys: expected
    encoder = AutoModel.from_pretrained(packaged_model_path(), num_hidden_layers=layers)
    encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    return encoder


def masked_mean(hidden, attention_mask):
    """The mean of each row's token states over its real tokens (padding left out), as MiniLM was trained."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


def rounded_mean(values: list) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def auc(positive: list[float], negative: list[float]) -> float:
    """How often a positive scores above a negative (every pair), rounded as the reports print it."""
    return round(float(np.mean([p > n for p in positive for n in negative])), 4)


def train_loop(model, examples: list, loss_of: Callable, args, checkpoint: Path) -> dict:
    """Fit `model` (an `encoder` plus new heads) on `examples` in their order, --batch at a time, where
    loss_of(batch, device) is the batch's loss; resumes from `checkpoint` when it exists; returns what was done."""
    import torch

    device = torch.device(args.device)
    model.to(device).train()
    steps = max(1, int(len(examples) * args.epochs) // args.batch)
    encoder = {id(p) for p in model.encoder.parameters()}
    optimizer = torch.optim.AdamW([{"params": [p for p in model.encoder.parameters() if p.requires_grad]},
                                   {"params": [p for p in model.parameters() if id(p) not in encoder], "lr": HEAD_LR}],
                                  lr=args.lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    (step, before, last_loss), started = _resume(checkpoint, model, optimizer, schedule), time.monotonic()
    first, saved, losses = step, started, []

    def loss_now() -> float:
        """The mean of the last 200 steps' losses (the checkpoint's when this run trained none)."""
        return float(np.mean(losses)) if losses else last_loss

    def spent() -> float:
        """Seconds of training over every run that resumed this one."""
        return before + time.monotonic() - started

    while step < steps and time.monotonic() - started < args.max_minutes * 60:
        loss = loss_of([examples[(step * args.batch + i) % len(examples)] for i in range(args.batch)], device)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        step, losses = step + 1, [*losses[-199:], float(loss.detach())]
        if step % 100 == 0 or step == steps:
            rate = ((step - first) * args.batch) / max(1e-9, time.monotonic() - started)
            print(f"step {step}/{steps} loss {np.mean(losses):.4f} {rate:.1f} examples/s", flush=True)
        if time.monotonic() - saved > CHECKPOINT_SECONDS:
            _save(checkpoint, model, optimizer, schedule, step, spent(), loss_now())
            saved = time.monotonic()
    _save(checkpoint, model, optimizer, schedule, step, spent(), loss_now())
    seconds = spent()
    return {"steps": step, "planned_steps": steps, "examples_seen": step * args.batch, "seconds": round(seconds),
            "examples_per_second": round(step * args.batch / max(seconds, 1e-9), 1),
            "final_loss": round(loss_now(), 4)}


def _save(checkpoint: Path, model, optimizer, schedule, step: int, seconds: float, loss: float) -> None:
    """Model, optimiser, schedule, step, seconds trained and the recent loss, written aside and renamed (a cut
    run loses at most 15 minutes)."""
    import torch

    scratch = checkpoint.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "step": step, "seconds": seconds, "loss": loss, "rng": torch.get_rng_state()}, scratch)
    scratch.replace(checkpoint)


def start_from(model, checkpoint: Path) -> str:
    """Load a finished run's weights into `model` (a longer run continues it with a schedule of its own): from
    its checkpoint, or from its exported fp32 or float16 ONNX file (such as the shipped retrieval/scorer.onnx,
    whose checkpoint a fresh clone does not have). What it started from, for the model card."""
    import hashlib

    import torch

    if checkpoint.suffix == ".onnx":
        state = onnx_state(checkpoint)
        missing = [name for name, _ in model.named_parameters()  # the pooler is never read: not traced
                   if name not in state and not name.startswith("encoder.pooler.")]
        if missing or set(state) - set(model.state_dict()):
            raise SystemExit(f"{checkpoint} is not this model's export (missing {missing[:3]}, "
                             f"unknown {sorted(set(state) - set(model.state_dict()))[:3]})")
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
        digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        return f"{checkpoint.name} (exported weights, sha256 {digest[:12]})"
    state = torch.load(checkpoint, weights_only=False)
    model.load_state_dict(state["model"])
    return f"{checkpoint.name} (step {state['step']}, {state['seconds']:.0f} s, loss {state.get('loss', 0.0):.4f})"


def onnx_state(path: Path) -> dict[str, np.ndarray]:
    """The parameters of a model traced by embeddings.onnx_encoder.trace_to_onnx, read back from its fp32 or
    float16 file, by their PyTorch names. The tracer names a linear layer's weight anonymously (transposed, as
    a MatMul input): it is named after the bias added to that MatMul's output."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    if any(node.op_type.startswith(("DynamicQuantize", "MatMulInteger")) for node in graph.node):
        raise SystemExit(f"{path} is an int8 copy: start from the fp32 or float16 one")
    cast = {node.output[0]: node.input[0] for node in graph.node if node.op_type == "Cast"}
    stored = {weight.name: numpy_helper.to_array(weight).astype(np.float32) for weight in graph.initializer}
    value = {name: stored[cast.get(name, name)] for name in {*stored, *cast} if cast.get(name, name) in stored}
    adds = {i: node for node in graph.node if node.op_type == "Add" for i in node.input}
    state = {}
    for name, array in value.items():
        if name.startswith("model.") and not name.endswith(".fp16"):
            state[name.removeprefix("model.")] = array
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in value and not node.input[1].startswith("model."):
            bias = next(i for i in adds[node.output[0]].input if i != node.output[0])
            state[bias.removeprefix("model.").removesuffix(".bias") + ".weight"] = value[node.input[1]].T.copy()
    return state


def _resume(checkpoint: Path, model, optimizer, schedule) -> tuple[int, float, float]:
    """The step to continue from, the seconds trained so far and the recent loss: the checkpoint's, with its
    state loaded, or zeros."""
    import torch

    if not checkpoint.is_file():
        return 0, 0.0, 0.0
    state = torch.load(checkpoint, weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    torch.set_rng_state(state["rng"])
    print(f"resumed at step {state['step']} from {checkpoint}", flush=True)
    return state["step"], state["seconds"], state.get("loss", 0.0)
