"""The ONNX Runtime backend: same vectors as PyTorch, exported once and cached, and indexes kept apart by backend."""

import sqlite3
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from embeddings import onnx_encoder
from embeddings.storage import store
from embeddings.encoder import make_encoder
from embeddings.packaged_model import sorted_batches
from embeddings.storage.reader import IndexReader
from embeddings.storage.writer import IndexWriter
from embeddings.indexer import Indexer
from embeddings.loaders import load_paths
from embeddings.onnx_encoder import OnnxEncoder
from tests.conftest import NEWSDESK, REPO, SAMPLE

TEXTS = [
    "The council voted on Tuesday to rebuild the harbour wall.",
    "Kestrel Robotics said its delivery drones would fly from March.",
    "Rain.",
    "",
    "Shares fell 3.5% after the company cut its forecast, citing weaker demand in Europe and Asia. " * 20,
    "Who founded Kestrel Robotics?",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A private model cache, so tests neither depend on nor change the user's ~/.cache."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx(onnx_cache):
    """The ONNX encoder with small batches, so several sorted batches are put back in order."""
    enc = OnnxEncoder(batch_size=2, cache=onnx_cache)
    enc.load()
    return enc


@pytest.fixture(scope="module")
def torch_encoder():
    """The PyTorch (sentence-transformers) backend, whatever the default backend is."""
    enc = make_encoder("torch")
    enc.load()
    return enc


def test_vectors_match_pytorch(onnx, torch_encoder):
    ours, theirs = onnx.encode(TEXTS), torch_encoder.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() >= 0.9999


def test_progress_counts_every_text(onnx):
    done = []
    onnx.encode(TEXTS, progress=done.append)
    assert sum(done) == len(TEXTS) and max(done) == 2, "batches of at most batch_size, all counted"


def test_batches_are_sorted_by_length_and_long_texts_padded_less():
    lengths = [200, 5, 10, 200, 7] * 20
    batches = sorted_batches(lengths, 32, max_padded=32 * 48)
    assert sorted(int(i) for b in batches for i in b) == list(range(100))
    assert all(len(b) <= 32 and len(b) * max(lengths[i] for i in b) <= 32 * 48 for b in batches)
    assert [len(b) for b in sorted_batches(lengths, 32)] == [32, 32, 32, 4]


def test_exported_model_is_cached_and_reused(onnx, onnx_cache, monkeypatch):
    files = [p.name for p in onnx_cache.iterdir() if "-int8" not in p.name]
    assert len(files) == 1 and files[0].endswith(".onnx"), "one finished file, no leftover scratch copy"

    def no_second_export(*args):
        raise AssertionError("the cached model should have been reused")

    monkeypatch.setattr(onnx_encoder, "export_onnx", no_second_export)
    again = OnnxEncoder(cache=onnx_cache)
    assert np.allclose(again.encode(TEXTS[:2]), onnx.encode(TEXTS[:2]), atol=1e-6)


@pytest.fixture(scope="module")
def int8(onnx_cache):
    enc = OnnxEncoder(batch_size=2, cache=onnx_cache, int8=True)
    enc.load()
    return enc


def test_int8_backend_is_close_to_fp32_and_named_apart(int8, onnx, onnx_cache):
    assert int8.backend == "onnx-int8" and make_encoder("onnx-int8").backend == "onnx-int8"
    # int8 moves the vectors a little (cosine ≈ 0.99 to fp32), not the rankings (docs/benchmarks.md: same MRR)
    assert (int8.encode(TEXTS) * onnx.encode(TEXTS)).sum(axis=1).min() >= 0.95
    assert [p.name for p in onnx_cache.glob("*.tmp")] == []


def test_int8_vector_does_not_depend_on_its_batch(int8):
    """Fixed activation ranges: a sentence gets the same vector alone, in a batch, or among other texts,
    which is what lets an incrementally updated index equal a fresh build."""
    together = int8.encode(TEXTS)
    alone = np.vstack([int8.encode([text]) for text in TEXTS])
    reordered = int8.encode(TEXTS[::-1] + TEXTS[:3])[: len(TEXTS)][::-1]
    assert np.array_equal(together, alone) and np.array_equal(together, reordered)


def test_int8_model_is_made_once_and_quietly(onnx, onnx_cache, tmp_path, capfd, monkeypatch):
    fp32 = next(p for p in onnx_cache.iterdir() if p.suffix == ".onnx" and "-int8" not in p.name)
    (tmp_path / fp32.name).symlink_to(fp32)
    root_handlers = logging.getLogger().handlers[:]
    OnnxEncoder(cache=tmp_path, int8=True).load()
    assert {p.name for p in tmp_path.iterdir()} == {fp32.name, f"{fp32.stem}-int8-static.onnx"}
    assert capfd.readouterr().err == "" and logging.getLogger().handlers == root_handlers

    def no_second_quantisation(*args, **kwargs):
        raise AssertionError("the int8 model should have been reused")

    monkeypatch.setattr(onnx_encoder, "_calibration_inputs", no_second_quantisation)
    OnnxEncoder(cache=tmp_path, int8=True).load()


def test_index_built_with_one_backend_is_refused_by_the_other(tmp_path, onnx, torch_encoder):
    encoder = torch_encoder
    root = tmp_path / "index"
    Indexer(root, onnx, show_progress=False).run(load_paths([SAMPLE / "wire.jsonl"]))
    assert IndexReader.open(root, onnx.name, onnx.dim, backend="onnx").stats()["backend"] == "onnx"
    with pytest.raises(store.IndexError_, match="embedded with the onnx backend.*NEWSDESK_BACKEND=onnx.*--rebuild"):
        IndexReader.open(root, encoder.name, encoder.dim, backend=encoder.backend)
    with pytest.raises(store.IndexError_, match="embedded with the onnx backend"):
        IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend)


def test_cli_names_the_setting_when_backends_differ(tmp_path, onnx, monkeypatch, capsys):
    from bot.cli import main

    root = tmp_path / "index"
    Indexer(root, onnx, show_progress=False).run(load_paths([SAMPLE / "wire.jsonl"]))
    monkeypatch.setenv("NEWSDESK_BACKEND", "torch")
    assert main(["ask", "Who founded Kestrel Robotics?", "--index", str(root)]) == 2
    assert "NEWSDESK_BACKEND=onnx" in capsys.readouterr().err


def test_index_from_before_backends_counts_as_torch(index_copy, encoder):
    with sqlite3.connect(index_copy / store.DB_FILE) as db:
        db.execute("DELETE FROM manifest WHERE key = 'backend'")
    assert IndexReader.open(index_copy, encoder.name, encoder.dim, backend="torch").stats()["backend"] == "torch"
    with pytest.raises(store.IndexError_, match="embedded with the torch backend"):
        IndexReader.open(index_copy, encoder.name, encoder.dim, backend="onnx")


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorflow'; choose one of onnx, onnx-int8, torch"):
        make_encoder("tensorflow")


def test_asking_with_onnx_never_imports_torch(tmp_path, onnx, onnx_cache):
    root = tmp_path / "index"
    Indexer(root, onnx, show_progress=False).run(load_paths([SAMPLE / "wire.jsonl"]))
    code = ("import sys; from embeddings.onnx_encoder import OnnxEncoder; from retrieval.pipeline import Pipeline; "
            f"from pathlib import Path; p = Pipeline(Path({str(root)!r}), OnnxEncoder(cache=Path({str(onnx_cache)!r}))); "
            "p.ask('Who founded Kestrel Robotics?'); print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'transformers', 'sentence_transformers')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def gpu_here() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@pytest.mark.skipif(not gpu_here(), reason="no GPU (onnxruntime-gpu with a CUDA device) here")
def test_the_model_on_a_gpu_gives_the_cpu_vectors():
    texts = ["The tram line cost $310 million.", "Children under 12 ride free.", "A slow-moving high brought heat."]
    on_gpu, on_cpu = make_encoder("onnx", device="cuda").encode(texts), make_encoder("onnx").encode(texts)
    assert np.allclose(on_gpu, on_cpu, atol=1e-3)


@pytest.mark.skipif(gpu_here(), reason="a GPU is here: the refusal cannot be caused")
def test_device_cuda_without_a_gpu_is_refused_in_one_line_and_writes_nothing(tmp_path):
    result = subprocess.run([*NEWSDESK, "index", "--index", str(tmp_path / "index"), str(SAMPLE), "--device", "cuda"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "--device cuda needs onnxruntime-gpu" in result.stderr and not (tmp_path / "index").exists()
