"""An index written before segments, upgraded by the next write: its one generation folder (database, vector
files, manifest) becomes the index's database and its first segment. Until the upgraded database is renamed
into place the old folder is the index, whole; after, the new layout is, whole. CURRENT then names a new
generation, so a reader that was opening the old folder as it went tries again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from embeddings.storage import database, manifest, segment_files, store


def upgrade(root: Path) -> None:
    """Upgrade the index at `root` if it predates segments (only ever called under the writer's lock)."""
    name = store.current_generation(root)
    if (root / store.DB_FILE).exists() or name is None or not (root / name / store.DB_FILE).exists():
        return
    gen = root / name
    saved = store.read_manifest(gen)
    segment = _first_segment(root, gen)
    scratch = root / f"{store.DB_FILE}.upgrade"
    shutil.copyfile(gen / store.DB_FILE, scratch)
    db = database.connect(str(scratch))
    try:
        if segment is not None:
            manifest.add_segment(db, segment)
        generation = store.new_generation_name()
        manifest.write(db, {**saved, "generation": generation, "format_version": store.FORMAT_VERSION})
        db.commit()
    finally:
        db.close()
    store.fsync(scratch)
    os.replace(scratch, root / store.DB_FILE)
    store.fsync(root)
    store.point_current(root, generation)
    store.remove_legacy_generations(root)


def _first_segment(root: Path, gen: Path) -> manifest.Segment | None:
    """The old generation's vector files, hard-linked (copied where links fail) into a segment folder."""
    def link(staging: Path) -> None:
        for file in (store.SENTENCES_FILE, store.PASSAGES_FILE, store.GRAPH_FILE):
            if (gen / file).exists():
                try:
                    os.link(gen / file, staging / file)
                except OSError:
                    shutil.copyfile(gen / file, staging / file)

    final = segment_files.place_segment(root, link)
    parts = segment_files.read_parts(final)
    if parts["sentences"].exact.ntotal == 0:
        shutil.rmtree(final)
        return None
    return segment_files.describe_segment(final.name, {kind: part.exact for kind, part in parts.items()})
