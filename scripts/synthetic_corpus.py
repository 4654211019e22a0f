"""Large indexes for the scale benchmarks, built synthetically (an index of 200,000 articles cannot be
embedded in a session on two cores).

Real sentences of the BBC and Reuters articles in ../shared/data/articles/ are recombined into distinct
synthetic articles (8 to 16 sentences in paragraphs of up to 4, a real sentence as headline, dates over two
years). Each distinct sentence is embedded once, by the real model (the pool is cached); an article's
sentence vectors are those, each with a small random perturbation and normalised again. Articles, sentences,
passages, signatures and vectors are written through the product's own IndexWriter, in writes of `chunk`
articles, so the index is the product's in every respect but the vectors.

    python scripts/synthetic_corpus.py --articles N --index DIR [--chunk 10000] [--pool 60000]
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import _bench
import numpy as np

from embeddings.indexer import passage_vectors
from embeddings.models import Article, Sentence
from embeddings.segment import make_passages, split_sentences
from embeddings.storage.writer import IndexWriter

NOISE = 0.01  # per dimension: the perturbed vector keeps a cosine of about 0.98 with its sentence's
FIRST_DAY = dt.date(2024, 1, 1)
NOTE = ("synthetic: real BBC/Reuters sentences recombined into distinct articles; each distinct sentence "
        "embedded once, its vector reused with a small random perturbation")


def sentence_pool(data: Path, encoder, size: int) -> tuple[list[str], np.ndarray]:
    """Up to `size` distinct sentences of the real articles (as the product splits them) and their vectors,
    embedded once and cached."""
    cache = _bench.CACHE / f"synthetic-pool-{encoder.backend}-{size}.npz"
    if cache.exists():
        saved = np.load(cache, allow_pickle=False)
        return saved["sentences"].tolist(), saved["vectors"]
    files = [f for pattern in _bench.CORPORA for f in sorted(_bench.require(data / "articles").glob(pattern))]
    seen: dict[str, None] = {}
    for line in (line for f in files for line in f.read_text().splitlines() if line.strip()):
        record = json.loads(line)
        article = Article(id=record["id"], title=record.get("title") or "", text=record["text"])
        seen |= dict.fromkeys(s.text for s in split_sentences(article) if 40 <= len(s.text) <= 300)
        if len(seen) >= size:
            break
    sentences = list(seen)[:size]
    print(f"embedding a pool of {len(sentences)} distinct real sentences once ...", file=sys.stderr, flush=True)
    vectors = encoder.encode(sentences).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, sentences=np.array(sentences), vectors=vectors)
    return sentences, vectors


def synthetic_articles(count: int, pool: list[str],
                       first: int = 0) -> Iterator[tuple[Article, list[Sentence], list[int]]]:
    """Articles `first` .. `first + count - 1`, each with its sentences (offsets into its text) and the pool
    indexes of those sentences."""
    for number in range(first, first + count):
        rng = random.Random(number)
        picks = rng.sample(range(len(pool)), rng.randint(8, 16))
        size = rng.choice([3, 4])
        article_id, text, sentences = f"synthetic-{number:07d}", "", []
        for index, pick in enumerate(picks):
            text += ("\n\n" if index % size == 0 else " ") if index else ""
            sentences.append(Sentence(article_id=article_id, index=index, paragraph=index // size, start=len(text),
                                      end=len(text) + len(pool[pick]), text=pool[pick]))
            text += pool[pick]
        yield (Article(id=article_id, title=pool[rng.randrange(len(pool))][:120], text=text, source="synthetic",
                       date=FIRST_DAY + dt.timedelta(days=number % 730), origin="synthetic"), sentences, picks)


def perturbed(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, NOISE, vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def build(root: Path, count: int, encoder, data: Path, chunk: int = 10_000, pool_size: int = 60_000,
          first: int = 0) -> dict:
    """Add `count` synthetic articles (numbered from `first`) to the index at `root`; what it took."""
    pool, vectors = sentence_pool(data, encoder, pool_size)
    rng, began = np.random.default_rng(first), time.perf_counter()
    for start in range(first, first + count, chunk):
        with IndexWriter(root, encoder.name, encoder.dim, backend=encoder.backend) as writer:
            for article, sentences, picks in synthetic_articles(min(chunk, first + count - start), pool, start):
                own = perturbed(vectors[picks], rng)
                passages = make_passages(article, sentences)
                writer.add(article, sentences, passages, own, passage_vectors(passages, own))
            writer.commit()
        done = start + chunk - first
        print(f"{root}: {min(done, count)} of {count} synthetic articles "
              f"({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    return {"articles": count, "seconds": round(time.perf_counter() - began, 1), "pool": len(pool), "note": NOTE}


def main() -> None:
    from embeddings.encoder import make_encoder

    p = _bench.parser(__doc__.split("\n")[0])
    p.add_argument("--articles", type=int, required=True, help="how many synthetic articles")
    p.add_argument("--index", type=Path, required=True, help="the index to build (or add to)")
    p.add_argument("--chunk", type=int, default=10_000, help="articles per write (default 10000)")
    p.add_argument("--pool", type=int, default=60_000, help="distinct real sentences to draw from")
    args = p.parse_args()
    encoder = make_encoder(args.backend)
    encoder.load()
    print(json.dumps(build(args.index, args.articles, encoder, args.data, args.chunk, args.pool)))


if __name__ == "__main__":
    main()
