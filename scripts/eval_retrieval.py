"""FAQ retrieval quality of the product's dense search against BM25 and two hybrids, on StackFAQ.

Dataset: StackFAQ (`<datasets>/stackfaq/`, see its SOURCE.md): 719 FAQ pairs from StackExchange
Web Applications, 1,249 user-style paraphrase queries, qrels (every answer of a query's own
thread is relevant). Each FAQ pair is one article: title = question, body = answer, no alternate
questions.

Systems, all measured in one run over the same corpus and queries:
  (a) ours   - the product: `article_passages` + bundled encoder + `VectorIndex.search`
               (article score = best passage cosine);
  (b) BM25   - `rank_bm25.BM25Okapi` over question + answer (lowercased `[a-z0-9]+` tokens,
               scikit-learn English stop words removed unless --keep-stopwords);
  (c) hybrid - alpha * dense article score + (1 - alpha) * per-query min-max-normalised BM25;
               alpha is chosen on the DEV half (best MRR@10, ties to the larger alpha);
  (d) RRF    - reciprocal-rank fusion of the dense and BM25 rankings, k = 60.

Queries are split by thread (even thread number = DEV, odd = TEST) so that paraphrases of one
question never sit on both sides. Metrics: P@1, P@5 (relevant among the top 5, divided by 5),
Hit@5 (any relevant in the top 5), MRR@10. Differences from dense on TEST get 95% CIs from a
bootstrap over threads.

Run from the repo root: `.venv/bin/python scripts/eval_retrieval.py [--write]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from rank_bm25 import BM25Okapi  # noqa: E402

from scripts.evalkit import (  # noqa: E402
    CHUNK_WORDS,
    RANKING_METRICS,
    Article,
    add_datasets_option,
    build_index,
    cluster_bootstrap_ci,
    encode_batched,
    fmt,
    load_embedder,
    load_stackfaq,
    markdown_table,
    rank_by_score,
    ranking_metrics,
    require_dir,
    run_details,
    signed,
    tokenizer,
)
from scripts.reportkit import write_doc_section  # noqa: E402

RRF_K = 60
ALPHAS = [round(i * 0.05, 2) for i in range(21)]  # 0.00 .. 1.00
TOP = 10  # depth every metric needs (MRR@10)


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scores rescaled to 0..1 (all zeros when they are all equal)."""
    low, high = float(scores.min()), float(scores.max())
    if high <= low:
        return np.zeros_like(scores)
    return (scores - low) / (high - low)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], n: int, k: int = RRF_K) -> np.ndarray:
    """RRF score of every article: sum over rankings of 1 / (k + rank), ranks from 1."""
    fused = np.zeros(n)
    for ranking in rankings:
        for rank, article_id in enumerate(ranking, start=1):
            fused[article_id] += 1.0 / (k + rank)
    return fused


def evaluate(rankings: Sequence[Sequence[int]], relevant: Sequence[set[int]]) -> np.ndarray:
    """Per-query metrics, shape (queries, len(RANKING_METRICS))."""
    return np.array(
        [ranking_metrics(r, rel) for r, rel in zip(rankings, relevant, strict=True)], dtype=float
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Evaluate FAQ retrieval (product dense search, BM25, hybrid, RRF) on StackFAQ.",
    )
    add_datasets_option(
        parser, help="folder holding stackfaq/ (default: ../shared/datasets beside the repo)"
    )
    parser.add_argument(
        "--keep-stopwords",
        action="store_true",
        help="do not remove English stop words before BM25 (default: remove them)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also rewrite the stackfaq section of docs/EVALUATION.md",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    data = load_stackfaq(require_dir(args.datasets / "stackfaq"))
    faqs, queries = data.faqs, data.queries
    n = len(faqs)
    article_of = {faq.faq_id: i for i, faq in enumerate(faqs)}
    relevant = [{article_of[f] for f in data.qrels.get(q.query_id, set())} for q in queries]
    threads = [q.thread_id for q in queries]
    is_dev = np.array([int(t.lstrip("t")) % 2 == 0 for t in threads])
    splits = {"dev": is_dev, "test": ~is_dev, "all": np.ones(len(queries), dtype=bool)}

    # (a) the product's dense retrieval
    embedder = load_embedder()
    index = build_index(embedder, [Article(f.question, f.answer) for f in faqs])
    query_vectors = encode_batched(embedder, [q.text for q in queries])
    encoded = time.perf_counter()
    ours: list[list[int]] = []
    dense_full_rank: list[list[int]] = []
    dense = np.zeros((len(queries), n))
    short_lists = 0
    for i, vector in enumerate(query_vectors):
        top = index.search(vector, articles=TOP)
        short_lists += len(top) < TOP
        ours.append([article_id for article_id, _score, _kind in top])
        every = index.search(vector, articles=n)  # same scoring, every article (for fusion)
        if len(every) != n:
            raise RuntimeError(f"dense search returned {len(every)} of {n} articles")
        dense_full_rank.append([article_id for article_id, _score, _kind in every])
        for article_id, score, _kind in every:
            dense[i, article_id] = score

    # (b) BM25 over question + answer
    tokenize = tokenizer(args.keep_stopwords)
    bm25 = BM25Okapi([tokenize(f"{f.question} {f.answer}") for f in faqs])
    lexical = np.vstack([bm25.get_scores(tokenize(q.text)) for q in queries])
    bm25_rank = [rank_by_score(row) for row in lexical]
    lexical_norm = np.vstack([minmax(row) for row in lexical])

    # (c) hybrid: alpha chosen on DEV by MRR@10 (ties: larger alpha, i.e. closer to dense)
    def hybrid(alpha: float) -> list[list[int]]:
        combined = alpha * dense + (1.0 - alpha) * lexical_norm
        return [rank_by_score(row, TOP) for row in combined]

    mrr_column = RANKING_METRICS.index("MRR@10")
    grid: list[tuple[float, np.ndarray]] = []
    dev_rows = np.flatnonzero(is_dev)
    for alpha in ALPHAS:
        ranked = hybrid(alpha)
        per_query = evaluate([ranked[i] for i in dev_rows], [relevant[i] for i in dev_rows])
        grid.append((alpha, per_query.mean(axis=0)))
    best_alpha = max(grid, key=lambda item: (round(item[1][mrr_column], 12), item[0]))[0]

    # (d) reciprocal-rank fusion of the full dense and BM25 rankings
    rrf = [
        rank_by_score(reciprocal_rank_fusion([d, b], n), TOP)
        for d, b in zip(dense_full_rank, bm25_rank, strict=True)
    ]

    systems = {
        "(a) ours: dense (product)": evaluate(ours, relevant),
        "(b) BM25 (question+answer)": evaluate([r[:TOP] for r in bm25_rank], relevant),
        f"(c) hybrid, alpha={best_alpha:.2f}": evaluate(hybrid(best_alpha), relevant),
        f"(d) RRF, k={RRF_K}": evaluate(rrf, relevant),
    }
    finished = time.perf_counter()

    # ---- tables
    counts = {name: int(mask.sum()) for name, mask in splits.items()}
    result_rows = []
    for split in ("test", "all"):
        mask = splits[split]
        for name, per_query in systems.items():
            means = per_query[mask].mean(axis=0)
            result_rows.append([name, f"{split.upper()} ({counts[split]:,})", *map(fmt, means)])
    results = markdown_table(["system", "queries", *RANKING_METRICS], result_rows)

    test_idx = np.flatnonzero(splits["test"])
    test_threads = [threads[i] for i in test_idx]
    base = systems["(a) ours: dense (product)"][test_idx]
    delta_rows = []
    verdicts = []
    for position, (name, per_query) in enumerate(list(systems.items())[1:]):
        diff = per_query[test_idx] - base
        cells = []
        for column, metric in enumerate(RANKING_METRICS):
            mean = float(diff[:, column].mean())
            low, high = cluster_bootstrap_ci(diff[:, column], test_threads)
            cells.append(f"{signed(mean)} [{signed(low)}, {signed(high)}]")
            if position > 0 and metric in ("P@1", "MRR@10"):  # the fusions, not plain BM25
                verdict = (
                    "better than" if low > 0 else "worse than" if high < 0 else "no different from"
                )
                verdicts.append(
                    f"- {name}: {metric} {signed(mean)} (95% CI {signed(low)} to {signed(high)})"
                    f", i.e. {verdict} dense at this sample size."
                )
        delta_rows.append([f"{name} minus (a)", *cells])
    deltas = markdown_table(["TEST half", *RANKING_METRICS], delta_rows)
    verdict_text = "\n".join(verdicts)

    grid_table = markdown_table(
        ["alpha (dense weight)", *RANKING_METRICS],
        [
            [f"{alpha:.2f}" + (" (chosen)" if alpha == best_alpha else ""), *map(fmt, means)]
            for alpha, means in grid
        ],
    )

    passages = index.passages
    kinds = {kind: passages.kinds.count(kind) for kind in ("title", "question", "chunk")}
    max_p5 = np.mean([min(len(rel), 5) / 5 for rel in relevant])
    stop_note = "kept" if args.keep_stopwords else "removed (scikit-learn's English list)"
    details = run_details(finished - started).replace("\n", "\n  ")
    section = f"""## FAQ retrieval on StackFAQ

Generated by `scripts/eval_retrieval.py`; do not edit by hand between the markers.

- Corpus: {n:,} articles, one per FAQ pair (title = question, body = answer).
  The product embeds them as {len(passages.kinds):,} passages: {kinds["title"]:,} titles and
  {kinds["chunk"]:,} answer chunks of at most {CHUNK_WORDS} words. An article scores its best
  passage.
- Queries: {len(queries):,}, split by thread number: DEV = even threads ({counts["dev"]:,}
  queries), TEST = odd threads ({counts["test"]:,}). Relevant = every FAQ pair of the query's
  thread.
  Some threads have fewer than 5 answers, so the highest attainable P@5 over all queries is
  {max_p5:.3f}; Hit@5 (anything relevant in the top 5) is reported beside it.
- BM25: `BM25Okapi` (k1=1.5, b=0.75) over question + answer, lowercased `[a-z0-9]+` tokens,
  stop words {stop_note}.
- Hybrid (c): alpha * dense cosine + (1 - alpha) * per-query min-max-normalised BM25, alpha
  chosen on DEV by MRR@10 from 0.00 to 1.00 in steps of 0.05 (alpha = 1 is dense alone, 0 is
  BM25 alone). RRF (d): sum of 1 / ({RRF_K} + rank) over the dense and BM25 rankings.
- Run:
  {details}

### Results

{results}

### Difference from dense (a) on TEST, with 95% bootstrap CI (resampling threads)

{deltas}

{verdict_text}

### Alpha grid for the hybrid on DEV ({counts["dev"]} queries)

{grid_table}
"""
    print(section)
    print(
        f"encode+index {encoded - started:.1f} s, total {finished - started:.1f} s; "
        f"queries with fewer than {TOP} dense results: {short_lists}",
        file=sys.stderr,
    )
    if args.write:
        write_doc_section("stackfaq", section)
        print("wrote the stackfaq section of docs/EVALUATION.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
