"""Merges: segments folded together, the vectors of deleted rows dropped, inside a write like any other (the
same lock, the same one-transaction commit), so many small writes do not leave many small segments.

Size-tiered, as Lucene's log merge policy: a segment's tier is the order of magnitude of its live sentences;
when more than MAX_PER_TIER neighbouring segments share a tier they become one. Only neighbours are merged, so
each segment keeps a range of ids of its own (manifest.Segment). A segment whose deleted share passes
REWRITE_SHARE is rewritten alone (its graph, if it has one, then leaves the deleted passages out too), and so is,
one per write, a segment whose graph keeps float32 copies of its passages (written before graphs stored 8-bit
codes: passage_graph.py), so an older index takes the smaller graphs over its next writes, never all in one.
`newsdesk compact` merges everything into one segment.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np

from embeddings.storage import manifest, passage_graph, segment_files, store
from embeddings.storage.manifest import KINDS, Segment

MAX_PER_TIER = 10
REWRITE_SHARE = 0.1


def maybe_merge(root: Path, db: sqlite3.Connection, dim: int, everything: bool = False) -> list[Path]:
    """Merge what the policy (or `everything`) asks for, in the writer's transaction; the segments written."""
    listed, deleted = manifest.segments(db), manifest.deleted_counts(db)
    graphs = {s.name: segment_files.folder(root) / s.name / store.GRAPH_FILE for s in listed}
    floats = {name for name, graph in graphs.items() if graph.exists() and passage_graph.stores_floats(graph)}
    runs = [listed] if everything and (len(listed) > 1 or deleted) else plan(listed, deleted, floats)
    return [path for run in runs for path in [_merge(root, db, run, dim)] if path is not None]


def plan(listed: list[Segment], deleted: dict[str, dict[str, int]],
         floats: set[str] = frozenset()) -> list[list[Segment]]:
    """The runs to merge: neighbours sharing a tier beyond MAX_PER_TIER, single segments mostly deleted, and one
    of the segments named in `floats` (their graphs keep float32 copies) when nothing else rewrites it."""
    live = {s.name: s.sentences - deleted.get(s.name, {}).get("sentences", 0) for s in listed}
    runs: list[list[Segment]] = []
    for segment in listed:
        if runs and _tier(live[runs[-1][-1].name]) == _tier(live[segment.name]):
            runs[-1].append(segment)
        else:
            runs.append([segment])
    chosen = [run for run in runs if len(run) > MAX_PER_TIER]
    crowded = {s.name for run in chosen for s in run}
    chosen += [[s] for s in listed if s.name not in crowded and live[s.name] < (1 - REWRITE_SHARE) * s.sentences]
    rewritten = {s.name for run in chosen for s in run}
    chosen += [[s] for s in listed if s.name in floats and s.name not in rewritten][:1]
    return chosen


def _tier(live: int) -> int:
    return int(math.log10(max(live, 1)))


def _merge(root: Path, db: sqlite3.Connection, run: list[Segment], dim: int) -> Path | None:
    """Write the live vectors of `run` as one segment and list it in their place; None if none is live."""
    out = {kind: segment_files.empty_vectors(dim, kind) for kind in KINDS}
    for segment in run:
        parts = segment_files.read_parts(segment_files.folder(root) / segment.name)
        for kind in KINDS:
            ids = np.setdiff1d(parts[kind].ids, manifest.deleted(db, kind, segment.name))
            if len(ids):
                out[kind].add_with_ids(parts[kind].exact.reconstruct_batch(ids), ids)
    manifest.drop_segments(db, [s.name for s in run])
    if out["sentences"].ntotal == 0:
        return None
    path = segment_files.write_segment(root, out, db)
    manifest.add_segment(db, segment_files.describe_segment(path.name, out))
    return path
