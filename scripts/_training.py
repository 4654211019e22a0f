"""What the two training scripts share: their command line, the data check, and writing the weights file."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data"


def training_main(doc: str, parts: list[Path], run: Callable[[Path, int | None, Path, bool], dict], weights_file: str,
                  default_limit: int | None = None, argv: list[str] | None = None) -> int:
    """Parse --data/--limit/--index-dir/--dry-run/--reading, run the fit, print it and save it as retrieval/<weights_file>."""
    name = Path(sys.argv[0]).stem
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared evaluation data folder")
    parser.add_argument("--limit", type=int, default=default_limit, help=f"questions to use (default {default_limit})")
    parser.add_argument("--index-dir", type=Path, help="keep the index here and reuse it (default: temporary)")
    parser.add_argument("--dry-run", action="store_true", help=f"print the result, do not write {weights_file}")
    parser.add_argument("--reading", action="store_true",
                        help=f"fit with the trained scorer reading (retrieval/scorer.onnx); writes {weights_file}'s "
                             "\"reading\" part and leaves the rest")
    args = parser.parse_args(argv)
    missing = [str(args.data / p) for p in parts if not (args.data / p).is_file()]
    if missing:
        print(f"{name}: data not found: {', '.join(missing)}; pass --data DIR", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix=f"{name}_") as scratch:
        result = run(args.data, args.limit, args.index_dir or Path(scratch) / "index", args.reading)
    print(json.dumps(result, indent=2))
    target = REPO / "retrieval" / weights_file
    if args.reading:
        result = {**json.loads(target.read_text()), "reading": result}
    if not args.dry_run:
        target.write_text(json.dumps(result, indent=2) + "\n")
    return 0
