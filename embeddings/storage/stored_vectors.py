"""A segment's exact vectors read from its FAISS file by row, without loading or mapping the whole file.

Questions look up ~70 sentence vectors and re-score ~40 passages per graph by id. Through FAISS's memory map
each lookup faults in the pages around it (kernel read-around), counted in the process's memory, and an
IndexIDMap2 keeps an id → row hash map on the heap: at a million articles ~2 GB of mapped pages and ~1 GB of
hash maps (docs/scaling.md). Here the rows are read with `pread` (the page cache holds them, not the process)
and ids become rows by a binary search in a sorted array. FAISS still loads the file, memory-mapped, the first
time a segment is scanned exactly (a small segment, a narrow filter, the dense baseline).

The layout read is FAISS's own (faiss/impl/index_write.cpp): "IxM2", the header of the outer index, the inner
index ("IxFI" or "IxF2", float32 rows, or "IxSQ" with float16 rows) with its header and its codes as a counted vector,
then the ids as a counted int64 vector. Any other file is served by FAISS alone (`open_exact`).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

_HEADER = struct.Struct("<iqqq?i")  # d, ntotal, two unused int64, is_trained, metric type
_ROW_TYPES = {b"IxFI": np.float32, b"IxF2": np.float32, b"IxSQ": np.float16}  # flat IP, flat L2, SQ
_FP16 = 4  # faiss.ScalarQuantizer.QT_fp16
_READ_ROWS = 1 << 16  # rows per read when many are contiguous (a merge reads every row)


class StoredVectors:
    """The id-mapped exact vectors of one FAISS file, looked up by id with `reconstruct_batch` (rows read by
    `pread`), searched through FAISS (`search`), loaded on first use."""

    def __init__(self, path: Path, layout: tuple[int, int, int, type]):
        self.path = path
        self.d, self.ntotal, self._codes_at, dtype = layout
        self._dtype = np.dtype(dtype).newbyteorder("<")
        self._row_bytes = self.d * self._dtype.itemsize
        ids_at = self._codes_at + self.ntotal * self._row_bytes
        count = int(np.fromfile(path, dtype="<i8", count=1, offset=ids_at)[0])
        if count != self.ntotal:
            raise ValueError(f"{path}: {count} ids for {self.ntotal} vectors")
        self.id_map = np.fromfile(path, dtype="<i8", count=count, offset=ids_at + 8)  # in row order
        ordered = bool(np.all(np.diff(self.id_map) > 0))
        self._order = None if ordered else np.argsort(self.id_map, kind="stable")  # sorted place → row
        self.sorted_ids = self.id_map if ordered else self.id_map[self._order]
        self._file = open(path, "rb", buffering=0)  # the file never changes; an open one outlives its removal
        self._index = None

    def reconstruct_batch(self, ids) -> np.ndarray:
        """The float32 vector of each id (every one must be held), in the order given."""
        ids = np.asarray(ids, dtype=np.int64)
        at = np.searchsorted(self.sorted_ids, ids)
        if len(ids) and (at.max() >= self.ntotal or np.any(self.sorted_ids[at] != ids)):
            raise KeyError(f"{self.path}: ids not held")
        rows = at if self._order is None else self._order[at]
        wanted, back = np.unique(rows, return_inverse=True)
        return self._read(wanted).astype(np.float32)[back]

    def search(self, query: np.ndarray, k: int, params=None):
        """FAISS's exact search over every row (with `params`' selector, if given)."""
        return self.index().search(query, k, params=params)

    def index(self):
        """The FAISS index of the file, memory-mapped, loaded on first use: through the open file where the
        system names it (/proc/self/fd), so a segment a merge has removed since still loads."""
        if self._index is None:
            import faiss

            opened = Path(f"/proc/self/fd/{self._file.fileno()}")
            self._index = faiss.read_index(str(opened if opened.exists() else self.path), faiss.IO_FLAG_MMAP_IFC)
        return self._index

    def _read(self, rows: np.ndarray) -> np.ndarray:
        """Rows (sorted, unique) as stored: one read per run of contiguous rows."""
        out = np.empty((len(rows), self._row_bytes), dtype=np.uint8)
        starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)
        for start, end in zip(starts, [*starts[1:], len(rows)]):
            for first in range(start, end, _READ_ROWS):
                last = min(end, first + _READ_ROWS)
                done = os.preadv(self._file.fileno(), [out[first:last]],
                                 self._codes_at + int(rows[first]) * self._row_bytes)
                if done != (last - first) * self._row_bytes:
                    raise OSError(f"{self.path}: short read at row {rows[first]}")
        return out.view(self._dtype).reshape(len(rows), self.d)


def layout(path: Path) -> tuple[int, int, int, type] | None:
    """(d, ntotal, offset of the first row, row type) of an id-mapped FAISS file of float32 or float16 rows,
    or None for any other kind of file."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] != b"IxM2":
        return None
    kind_at = _after_header(head, 4)
    kind = head[kind_at:kind_at + 4]
    if kind not in _ROW_TYPES:
        return None
    d, ntotal = _HEADER.unpack_from(head, kind_at + 4)[:2]
    at = _after_header(head, kind_at + 4)
    if kind == b"IxSQ":
        qtype, _, _, _, code_size, trained = struct.unpack_from("<iifqqq", head, at)
        if qtype != _FP16 or code_size != 2 * d:
            return None
        at += struct.calcsize("<iifqqq") + 4 * trained
    if at + 8 > len(head):
        return None
    count = struct.unpack_from("<q", head, at)[0]
    width = np.dtype(_ROW_TYPES[kind]).itemsize
    if count * (1 if kind == b"IxSQ" else 4) != ntotal * d * width:  # IxFI counts floats, IxSQ bytes
        return None
    return d, ntotal, at + 8, _ROW_TYPES[kind]


def _after_header(head: bytes, at: int) -> int:
    """Where an index header starting at `at` ends (a metric argument follows the types that take one)."""
    metric = _HEADER.unpack_from(head, at)[-1]
    return at + _HEADER.size + (4 if metric > 1 else 0)


def open_exact(path: Path):
    """A segment's exact vectors: read by row where the layout is known, else FAISS's memory-mapped index."""
    found = layout(path)
    if found is not None:
        return StoredVectors(path, found)
    import faiss

    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
