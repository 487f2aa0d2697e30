"""Benchmarks knowledge-base search as the index grows: 1,000 to 1,000,000 passages.

For each size it builds the index the service would choose (`app.kb.ann.choose_index`: exact up
to 20,000 passages, IVF above) and reports build time, the index's memory, single-query search
p50/p99 on one thread (the depth the service asks for: 48 passages) and recall@10 against exact
search. At sizes where the service uses IVF, exact search is timed too, for comparison.

The vectors are real where they can be and synthetic for scale. Real: about 50,000 customer
messages and support answers from ../shared/datasets (CLINC150, BANKING77, Bitext, StackFAQ),
embedded with the service's model (the vectors are cached under data/bench/). Queries are 1,000
of those messages held out of every index: half (calibration) choose `nprobe`, the other half
(report) give the recall and latency in the table. Past the real pool, each extra passage is a
real one moved by noise (cosine about 0.85 to its source, like a paraphrase), so the index
holds dense groups of near-duplicates: a harder case for IVF than distinct articles.

The nprobe sweep at the largest IVF size (calibration queries) is printed and written too, so
the default (`nlist / 64`, at least 32) can be checked against the recall target of 0.95.

Run from the repo root: `python scripts/bench_search_scale.py [--sizes 1000,10000,100000,1000000]
[--write]`; `--write` updates the generated section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app.config import Settings  # noqa: E402
from app.kb.ann import build_index, choose_index  # noqa: E402
from app.kb.vector_index import StoredPassages, VectorIndex  # noqa: E402
from scripts.reportkit import command_line, machine_description, publish  # noqa: E402

DATASETS = REPO_ROOT.parent / "shared" / "datasets"
CACHE = REPO_ROOT / "data" / "bench"
DEPTH = 48  # passages the service asks FAISS for (16 per article, 3 articles)
QUERIES = 1000
PASSAGES_PER_ARTICLE = 3
NOISE_COSINE = 0.85


def real_texts() -> list[str]:
    """Customer messages and support answers from the public datasets, deduplicated."""
    texts: list[str] = []
    clinc = json.loads((DATASETS / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    for split in clinc.values():
        texts.extend(text for text, _ in split)
    for name in ("train.csv", "test.csv"):
        with (DATASETS / "banking77" / name).open(encoding="utf-8") as f:
            texts.extend(row["text"] for row in csv.DictReader(f))
    bitext = DATASETS / "bitext_customer_support"
    for name in ("train.csv", "dev.csv", "test.csv"):
        with (bitext / "intent_detection" / name).open(encoding="utf-8") as f:
            texts.extend(row["utterance"] for row in csv.DictReader(f))
    responses = (
        bitext / "llm_chatbot_responses" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    )
    with responses.open(encoding="utf-8") as f:
        texts.extend(" ".join(row["response"].split()[:120]) for row in csv.DictReader(f))
    for line in (
        (DATASETS / "stackfaq" / "faq_pairs.jsonl").read_text(encoding="utf-8").splitlines()
    ):
        pair = json.loads(line)
        texts.extend((pair["question"], " ".join(pair["answer"].split()[:120])))
    seen: set[str] = set()
    unique = []
    for text in texts:
        key = " ".join(text.lower().split())
        if key and key not in seen:
            seen.add(key)
            unique.append(text)
    return unique


def real_vectors(texts: list[str]) -> np.ndarray:
    """The texts embedded with the service's model and backend (cached by content)."""
    from app.nlp.embedder import Embedder

    settings = Settings()
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"real-{Path(settings.embedding_model).name}-{digest}.npy"
    if path.exists():
        return np.load(path)
    embedder = Embedder(
        settings.embedding_model,
        backend=settings.embedding.backend,
        cache_dir=settings.model_cache_dir,
        threads=settings.embedding.threads,
    )
    started = time.perf_counter()
    chunks = []
    for start in range(0, len(texts), 256):
        chunks.append(embedder.encode(texts[start : start + 256]))
        print(f"\rembedding {start + 256:,}/{len(texts):,}", end="", flush=True)
    vectors = np.vstack(chunks).astype(np.float32)
    print(f"\nembedded {len(texts):,} texts in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def grow(pool: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` unit vectors: the real pool (shuffled), then noisy copies of it."""
    if size <= len(pool):
        return pool[rng.permutation(len(pool))[:size]].copy()
    extra = size - len(pool)
    sources = pool[rng.integers(0, len(pool), extra)]
    dimension = pool.shape[1]
    # noise of norm s orthogonal-ish to v: cos(v, v + s*g) = 1 / sqrt(1 + s^2)
    sigma = np.sqrt(1 / NOISE_COSINE**2 - 1) / np.sqrt(dimension)
    out = np.empty((size, dimension), np.float32)
    out[: len(pool)] = pool
    for start in range(0, extra, 100_000):
        chunk = sources[start : start + 100_000]
        moved = chunk + rng.normal(0, sigma, chunk.shape).astype(np.float32)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True)
        out[len(pool) + start : len(pool) + start + len(chunk)] = moved
    return out


def rss_mb() -> float:
    """Resident memory of this process, MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_search(index: faiss.Index, queries: np.ndarray) -> tuple[float, float]:
    """p50 and p99 (ms) of one query at a time, one thread."""
    faiss.omp_set_num_threads(1)
    for q in queries[:20]:
        index.search(q.reshape(1, -1), DEPTH)
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q.reshape(1, -1), DEPTH)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def recall_at_10(index: faiss.Index, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true 10 nearest found among the index's 10 nearest."""
    faiss.omp_set_num_threads(2)
    _, found = index.search(queries, 10)
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True))
    return hits / truth.size


def service_search(vectors: np.ndarray, index: faiss.Index, queries: np.ndarray) -> float:
    """p99 (ms) of the service's whole search (FAISS plus article scoring) for 3 articles."""
    rows = len(vectors)
    passages = StoredPassages(
        vectors,
        np.arange(rows, dtype=np.int64) // PASSAGES_PER_ARTICLE,
        ["body"] * rows,
        [""] * rows,
        [""] * rows,
    )
    searcher = VectorIndex(passages, index=index)
    faiss.omp_set_num_threads(1)
    times = []
    for q in queries:
        started = time.perf_counter()
        searcher.search(q, articles=3)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 99))


def measure(
    size: int, pool: np.ndarray, calibration: np.ndarray, report: np.ndarray, sweep: bool
) -> dict[str, Any]:
    """Every figure for one size."""
    rng = np.random.default_rng(size)
    vectors = grow(pool, size, rng)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    faiss.omp_set_num_threads(2)
    _, truth_report = exact.search(report, 10)
    _, truth_calibration = exact.search(calibration, 10)
    choice = choose_index(size)
    before = rss_mb()
    faiss.omp_set_num_threads(2)
    started = time.perf_counter()
    index = build_index(vectors, choice) if choice.kind == "ivf" else exact
    build = time.perf_counter() - started
    if choice.kind == "flat":  # the exact index above is the one the service would build
        started = time.perf_counter()
        build_index(vectors, choice)
        build = time.perf_counter() - started
    memory = len(faiss.serialize_index(index)) / 2**20
    p50, p99 = time_search(index, report)
    row: dict[str, Any] = {
        "passages": size,
        "index": choice.describe(),
        "kind": choice.kind,
        "nlist": choice.nlist,
        "nprobe": choice.nprobe,
        "build_seconds": round(build, 2),
        "index_mb": round(memory, 1),
        "rss_growth_mb": round(rss_mb() - before, 1),
        "search_p50_ms": round(p50, 2),
        "search_p99_ms": round(p99, 2),
        "recall_at_10": round(recall_at_10(index, report, truth_report), 4),
        "service_search_p99_ms": round(service_search(vectors, index, report[:300]), 2),
    }
    if choice.kind == "ivf":
        e50, e99 = time_search(exact, report[:200])
        row["exact_p50_ms"], row["exact_p99_ms"] = round(e50, 2), round(e99, 2)
        if sweep:
            ivf = faiss.extract_index_ivf(index)
            points = []
            for nprobe in (16, 32, 64, 128, 256, 512):
                if nprobe > choice.nlist:
                    break
                ivf.nprobe = nprobe
                s50, s99 = time_search(index, calibration[:300])
                points.append(
                    {
                        "nprobe": nprobe,
                        "recall_at_10": round(
                            recall_at_10(index, calibration, truth_calibration), 4
                        ),
                        "p50_ms": round(s50, 2),
                        "p99_ms": round(s99, 2),
                    }
                )
                print(f"  sweep {points[-1]}")
            ivf.nprobe = choice.nprobe
            row["sweep"] = points
    print(json.dumps({k: v for k, v in row.items() if k != "sweep"}))
    del vectors, exact, index
    gc.collect()
    return row


def table(rows: list[dict[str, Any]], real: int, wall: float) -> str:
    """The docs section."""
    lines = [
        "## Search as the knowledge base grows",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine_description()} with "
        f"`{command_line()}` ({wall / 60:.0f} min). {real:,} real vectors (customer messages and "
        "support answers from the public datasets, embedded with the service's model); past "
        f"that, noisy copies of them (cosine {NOISE_COSINE} to their source). Search: one query, "
        f"one thread, {DEPTH} nearest passages (what the service asks for); p50/p99 over "
        f"{QUERIES // 2} held-out real queries; recall@10 against exact search. "
        "The index is what the service picks at that size (`app.kb.ann`).",
        "",
        "| Passages | Index | Build | Index memory | Search p50 | Search p99 | Recall@10 "
        "| Service search p99 (3 articles) | Exact search p50 / p99 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        exact = (
            f"{r['exact_p50_ms']:.1f} / {r['exact_p99_ms']:.1f} ms" if "exact_p50_ms" in r else "—"
        )
        lines.append(
            f"| {r['passages']:,} | {r['index']} | {r['build_seconds']:.1f} s "
            f"| {r['index_mb']:,.0f} MB | {r['search_p50_ms']:.2f} ms "
            f"| {r['search_p99_ms']:.2f} ms "
            f"| {r['recall_at_10']:.3f} | {r['service_search_p99_ms']:.2f} ms | {exact} |"
        )
    sweeps = [r for r in rows if r.get("sweep")]
    if sweeps:
        last = sweeps[-1]
        lines += [
            "",
            f"nprobe at {last['passages']:,} passages ({last['nlist']:,} lists), on the "
            "calibration queries (the table above uses the other half):",
            "",
            "| nprobe | Recall@10 | p50 | p99 |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {p['nprobe']} | {p['recall_at_10']:.3f} | {p['p50_ms']:.2f} ms "
            f"| {p['p99_ms']:.2f} ms |"
            for p in last["sweep"]
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    texts = real_texts()
    vectors = real_vectors(texts)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(vectors))
    calibration = np.ascontiguousarray(vectors[order[: QUERIES // 2]])
    report = np.ascontiguousarray(vectors[order[QUERIES // 2 : QUERIES]])
    pool = np.ascontiguousarray(vectors[order[QUERIES:]])
    print(f"{len(pool):,} real vectors in the pool, {QUERIES} held-out queries")
    rows = []
    ivf_sizes = [s for s in sizes if choose_index(s).kind == "ivf"]
    for size in sizes:
        rows.append(
            measure(
                size, pool, calibration, report, sweep=bool(ivf_sizes) and size == ivf_sizes[-1]
            )
        )
    wall = time.perf_counter() - started
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    publish(table(rows, len(pool), wall), "search-scale", write=args.write)


if __name__ == "__main__":
    main()
