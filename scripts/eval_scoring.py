"""Chooses and reports the knowledge base's article scoring: the best passage cosine alone, or
adjusted by how well each article's centroid fits the query (`app.kb.vector_index`).

The product's scoring, for a centroid weight beta (0 = best passage alone):

    score(a) = best_cosine(a) - beta * (best_closeness - closeness(a))

with closeness = cosine between the query and the article's centroid (unit mean of its passage
vectors). Every product row runs the service's code: `KnowledgeIndex(centroid_weight=beta)`
rebuilt over the articles, `KnowledgeIndex.search` with the service's limit, and the policy's
`decide` through `app.evaluation.retrieval.evaluate` (first messages only the knowledge base can
answer). For each beta the `ambiguity_margin` is re-chosen by the reference utility rule of
`scripts/calibrate_policy.py` (`choose_margin`): the 0.00..0.15 grid, best mean utility (+1
resolved, -3 wrong or out-of-scope answered, 0 deflected) over CLINC150 val and Bitext dev. The
margin shipped is chosen afterwards by calibrate_policy's own rule (the smallest margin keeping
wrong answers at or under 5% on each of those sets).

Choosing beta (validation data only, no test split is looked at):
- objective: mean utility, at each beta's re-chosen margin, over three validation sets: CLINC150
  val, Bitext dev and BANKING77-OOS val (its `valid` split with the ID-OOS and OOD-OOS `valid`
  questions; articles from `train` as in calibrate_policy). BANKING77-OOS val is there so that a
  weight fitted to two domains does not hurt a third: on CLINC150 val + Bitext dev alone the
  utility keeps rising up to beta = 3, which makes the too-close gaps overconfident on
  BANKING77's fine-grained intents;
- guard: StackFAQ dev (even thread numbers, as in `scripts/eval_retrieval.py`) P@1 and MRR@10 not
  below beta = 0;
- grid CHOICE_GRID; the rows of SENSITIVITY_GRID are shown, not chosen from.

Reference rows (not product code; numpy re-scorings of the same vectors, same policy and margin
rule, their parameter chosen by the same objective): a lexical tie-breaker (BM25 over title,
questions and body, per-query max-normalised, `score = cosine + gamma * (bm25 - max bm25)`) and a
trained head (ridge regression of article one-hots on the passage vectors, lambda = 1,
`score = cosine + w * (head - max head)`).

Reported on Bitext test, CLINC150 test, BANKING77-OOS test and StackFAQ test, plus the search
time per query (beta = 0 vs the shipped weight) on the real knowledge bases (27-719 articles) and
on a synthetic one of 2,000 articles x 8 passages.

Run from the repo root (after `python scripts/export_eval_csv.py`):
`.venv/bin/python scripts/eval_scoring.py [--datasets DIR]` (about 5 minutes on 2 CPUs).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from rank_bm25 import BM25Okapi  # noqa: E402

from app.config import Settings  # noqa: E402
from app.evaluation.retrieval import (  # noqa: E402
    RESOLVED,
    WRONG,
    RetrievalReport,
    RetrievalRun,
    Retrieved,
    as_published,
    encode_texts,
    evaluate,
    load_embedder,
    search_limit,
)
from app.kb.knowledge import ArticleRef, KbHit, KnowledgeIndex  # noqa: E402
from app.kb.loader import ArticleIn, load_folder  # noqa: E402
from app.kb.passages import article_passages  # noqa: E402
from app.kb.vector_index import CENTROID_WEIGHT, StoredPassages, VectorIndex  # noqa: E402
from app.nlp.embedder import Embedder  # noqa: E402
from app.policy.settings import PolicySettings  # noqa: E402
from scripts.calibrate_policy import (  # noqa: E402
    FAQ_DIR,
    OOS,
    WRONG_WEIGHT,
    EvalSet,
    choose_margin,
    faq_questions,
    intent_kb,
    require_faq,
    utility,
    with_margin,
)
from scripts.evalkit import (  # noqa: E402
    Labelled,
    add_datasets_option,
    load_banking77_oos,
    load_clinc150,
    load_dnnc,
    load_stackfaq,
    markdown_table,
    require_dir,
    tokenizer,
)

CHOICE_GRID = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]
SENSITIVITY_GRID = [0.25, 0.75, 1.25]
BM25_GAMMAS = [0.02, 0.05, 0.1]
RIDGE_WEIGHTS = [0.3, 0.5, 1.0]
RIDGE_LAMBDA = 1.0
RANK_DEPTH = 10
tokenize = tokenizer(keep_stopwords=False)  # BM25 tokens, as in scripts/eval_retrieval.py

CAL = ("clinc_val", "bitext_dev")
VALIDATION = ("clinc_val", "bitext_dev", "banking_val")
REPORT = ("bitext_test", "clinc_test", "banking_test")
NAMES = {
    "clinc_val": "CLINC150 val",
    "bitext_dev": "Bitext dev",
    "banking_val": "BANKING77-OOS val",
    "bitext_test": "Bitext test",
    "clinc_test": "CLINC150 test",
    "banking_test": "BANKING77-OOS test",
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Corpus:
    """A knowledge base and the question sets searched against it."""

    name: str
    articles: list[ArticleIn]
    sets: dict[str, Labelled]  # set key -> (text, slug or "oos") rows


@dataclass(frozen=True)
class StackFaqSplit:
    """StackFAQ queries of one half with their relevant article ids (1-based, as published)."""

    texts: list[str]
    relevant: list[set[int]]


class CachedEncoder:
    """The product encoder with a text -> vector cache, so each text is encoded once."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, encode_texts(self.embedder, missing), strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, self.embedder.dimension), np.float32)
        return np.vstack([self._cache[t] for t in texts]).astype(np.float32)


def load_corpora(datasets: Path) -> tuple[list[Corpus], list[ArticleIn], dict[str, StackFaqSplit]]:
    """The intent-style corpora (Bitext FAQ, CLINC150, BANKING77-OOS) and StackFAQ."""
    require_faq()
    faq_rows = {split: faq_questions(split) for split in ("dev", "test")}
    clinc = load_clinc150(require_dir(datasets / "clinc150"))
    banking_dir = require_dir(datasets / "banking77_oos")
    banking = load_banking77_oos(banking_dir)
    banking_val = (
        banking["valid"]
        + load_dnnc(banking_dir / "id-oos" / "valid")
        + load_dnnc(banking_dir / "ood-oos" / "valid")
    )
    corpora = [
        Corpus(
            "bitext",
            load_folder(FAQ_DIR),
            {"bitext_dev": faq_rows["dev"], "bitext_test": faq_rows["test"]},
        ),
        Corpus(
            "clinc",
            intent_kb(clinc["train"]),
            {
                "clinc_val": clinc["val"] + clinc["oos_val"],
                "clinc_test": clinc["test"] + clinc["oos_test"],
            },
        ),
        Corpus(
            "banking",
            intent_kb(banking["train"]),
            {
                "banking_val": banking_val,
                "banking_test": banking["test"] + banking["id_oos_test"] + banking["ood_oos_test"],
            },
        ),
    ]
    stack = load_stackfaq(require_dir(datasets / "stackfaq"))
    articles = [
        ArticleIn(slug=f"faq-{i}", title=f.question, body=f.answer)
        for i, f in enumerate(stack.faqs, start=1)
    ]
    number = {f.faq_id: i for i, f in enumerate(stack.faqs, start=1)}
    splits: dict[str, StackFaqSplit] = {"dev": StackFaqSplit([], []), "test": StackFaqSplit([], [])}
    for query in stack.queries:
        half = "dev" if int(query.thread_id.lstrip("t")) % 2 == 0 else "test"
        splits[half].texts.append(query.text)
        splits[half].relevant.append({number[f] for f in stack.qrels.get(query.query_id, set())})
    return corpora, articles, splits


# --------------------------------------------------------------------------- product runs


def build(
    articles: Sequence[ArticleIn], encode: CachedEncoder, settings: Settings, weight: float
) -> KnowledgeIndex:
    """The service's KnowledgeIndex over `articles` with centroid weight `weight`."""

    async def encode_many(texts: list[str]) -> np.ndarray:
        return encode(texts)

    with tempfile.TemporaryDirectory(prefix="switchboard-scoring-") as folder:
        knowledge = KnowledgeIndex(
            folder=Path(folder),
            model_key=encode.embedder.key,
            dimension=encode.embedder.dimension,
            chunk_words=settings.retrieval.chunk_words,
            centroid_weight=weight,
        )
        asyncio.run(knowledge.rebuild(as_published(articles), revision=1, encode=encode_many))
    return knowledge


def product_runs(
    corpus: Corpus, encode: CachedEncoder, settings: Settings, weight: float
) -> dict[str, RetrievalRun]:
    """Every set of `corpus` searched with the product scoring at `weight`."""
    knowledge = build(corpus.articles, encode, settings, weight)
    limit = search_limit(settings)
    runs = {}
    for key, rows in corpus.sets.items():
        vectors = encode([text for text, _ in rows])
        runs[key] = RetrievalRun(
            len(corpus.articles),
            OOS,
            tuple(
                Retrieved(text, label, tuple(knowledge.search(vector, limit=limit)))
                for (text, label), vector in zip(rows, vectors, strict=True)
            ),
        )
    return runs


def ranking(ranked_lists: Sequence[Sequence[int]], split: StackFaqSplit) -> tuple[float, float]:
    """P@1 and MRR@10 (any relevant article counts) of ranked article ids for StackFAQ queries."""
    firsts, reciprocal = [], []
    for ranked_all, relevant in zip(ranked_lists, split.relevant, strict=True):
        ranked = list(ranked_all)[:RANK_DEPTH]
        firsts.append(float(bool(ranked) and ranked[0] in relevant))
        rr = next((1.0 / r for r, a in enumerate(ranked, start=1) if a in relevant), 0.0)
        reciprocal.append(rr)
    return float(np.mean(firsts)), float(np.mean(reciprocal))


# --------------------------------------------------------------------------- reference scorers

Rescore = Callable[[np.ndarray, np.ndarray, list[str]], np.ndarray]
# (passage cosines per article max (nq, n), query vectors, query texts) -> article scores


def passage_matrix(
    articles: Sequence[ArticleIn], encode: CachedEncoder, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Passage vectors and their article positions, as the product makes the passages."""
    texts: list[str] = []
    owner: list[int] = []
    for position, article in enumerate(articles):
        for passage in article_passages(
            article.title,
            article.body,
            list(article.questions),
            max_words=settings.retrieval.chunk_words,
        ):
            texts.append(passage.text)
            owner.append(position)
    return encode(texts), np.asarray(owner)


def best_cosines(vectors: np.ndarray, owner: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(queries, articles) best passage cosine per article."""
    scores = queries @ vectors.T
    out = np.full((len(queries), int(owner.max()) + 1), -1.0)
    for article in range(out.shape[1]):
        out[:, article] = scores[:, owner == article].max(axis=1)
    return out


def bm25_scores(articles: Sequence[ArticleIn], texts: Sequence[str]) -> np.ndarray:
    """Per-query max-normalised BM25 of title + questions + body."""
    bm25 = BM25Okapi([tokenize(" ".join([a.title, *a.questions, a.body])) for a in articles])
    raw = np.vstack([bm25.get_scores(tokenize(t)) for t in texts])
    return raw / np.maximum(raw.max(axis=1, keepdims=True), 1e-9)


def ridge_head(vectors: np.ndarray, owner: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Ridge regression of article one-hots on (centred) passage vectors."""
    x = vectors.astype(np.float64)
    mean = x.mean(axis=0)
    targets = np.zeros((len(owner), int(owner.max()) + 1))
    targets[np.arange(len(owner)), owner] = 1.0
    xc = x - mean
    weights = np.linalg.solve(xc.T @ xc + RIDGE_LAMBDA * np.eye(x.shape[1]), xc.T @ targets)
    bias = targets.mean(axis=0)
    return lambda q: (q - mean) @ weights + bias


def scored_run(articles: Sequence[ArticleIn], rows: Labelled, scores: np.ndarray) -> RetrievalRun:
    """A run whose hits are the top articles of `scores`, clamped like KnowledgeIndex.search."""
    refs = [ArticleRef(a.id, a.slug, a.title, a.body) for a in as_published(articles)]
    queries = []
    for (text, label), row in zip(rows, scores, strict=True):
        top = np.argsort(-row, kind="stable")[:RANK_DEPTH]
        hits = tuple(KbHit(refs[i], max(0.0, min(1.0, float(row[i]))), "question") for i in top)
        queries.append(Retrieved(text, label, hits))
    return RetrievalRun(len(articles), OOS, tuple(queries))


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class MethodResult:
    """One scoring method: its re-chosen margin and every set's report at it."""

    name: str
    margin: float
    cal_utility: float
    val_utility: float
    reports: dict[str, RetrievalReport]  # set key -> report at the margin
    stack_dev: tuple[float, float]
    stack_test: tuple[float, float]


def judge(
    name: str,
    runs: dict[str, RetrievalRun],
    base: PolicySettings,
    stack_dev: tuple[float, float],
    stack_test: tuple[float, float],
) -> MethodResult:
    sets = {key: EvalSet(NAMES[key], run) for key, run in runs.items()}
    margin, _ = choose_margin([sets[k] for k in CAL], base, WRONG_WEIGHT)
    policy = with_margin(base, margin)
    reports = {key: evaluate(run, policy)[0] for key, run in runs.items()}
    return MethodResult(
        name,
        margin,
        float(np.mean([utility(reports[k], WRONG_WEIGHT) for k in CAL])),
        float(np.mean([utility(reports[k], WRONG_WEIGHT) for k in VALIDATION])),
        reports,
        stack_dev,
        stack_test,
    )


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def outcome(r: RetrievalReport) -> str:
    """resolved / wrong / deflected of the in-scope questions (and OOS not answered)."""
    cell = f"{pct(r.rate(RESOLVED))} / {pct(r.rate(WRONG))} / {pct(r.deflected / r.in_scope)}"
    if r.out_of_scope:
        cell += f" (OOS {pct(r.oos_rejection)})"
    return cell


def timing(index: VectorIndex, queries: np.ndarray, weight: float, limit: int) -> float:
    """Mean milliseconds per `search` (best of three passes)."""
    index.centroid_weight = weight
    for vector in queries[:20]:
        index.search(vector, articles=limit)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for vector in queries:
            index.search(vector, articles=limit)
        best = min(best, (time.perf_counter() - started) / len(queries) * 1e3)
    return best


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_datasets_option(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    settings = Settings()
    base = PolicySettings()
    encode = CachedEncoder(load_embedder(settings))
    corpora, stack_articles, stack = load_corpora(args.datasets)
    limit = search_limit(settings)
    stack_vectors = {half: encode(split.texts) for half, split in stack.items()}

    def stack_product(weight: float) -> dict[str, tuple[float, float]]:
        knowledge = build(stack_articles, encode, settings, weight)
        return {
            h: ranking(
                [[hit.article.id for hit in knowledge.search(v, limit=limit)] for v in vectors],
                stack[h],
            )
            for h, vectors in stack_vectors.items()
        }

    # ---- the product scoring over the beta grid
    results: dict[float, MethodResult] = {}
    for weight in sorted({*CHOICE_GRID, *SENSITIVITY_GRID, CENTROID_WEIGHT}):
        runs: dict[str, RetrievalRun] = {}
        for corpus in corpora:
            runs.update(product_runs(corpus, encode, settings, weight))
        stack_scores = stack_product(weight)
        results[weight] = judge(
            f"beta = {weight:g}" + (" (before: best passage only)" if weight == 0 else ""),
            runs,
            base,
            stack_scores["dev"],
            stack_scores["test"],
        )
        print(f"beta {weight:g}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    floor = results[0.0].stack_dev
    allowed = [
        w
        for w in CHOICE_GRID
        if results[w].stack_dev[0] >= floor[0] and results[w].stack_dev[1] >= floor[1]
    ]
    chosen = max(allowed, key=lambda w: (round(results[w].val_utility, 10), -w))

    # ---- reference re-scorings (numpy; same vectors, policy and margin rule)
    matrices = {c.name: passage_matrix(c.articles, encode, settings) for c in corpora}
    stack_matrix = passage_matrix(stack_articles, encode, settings)
    cosines: dict[str, np.ndarray] = {}
    texts: dict[str, list[str]] = {}
    queries: dict[str, np.ndarray] = {}
    for corpus in corpora:
        vectors, owner = matrices[corpus.name]
        for key, rows in corpus.sets.items():
            texts[key] = [t for t, _ in rows]
            queries[key] = encode(texts[key])
            cosines[key] = best_cosines(vectors, owner, queries[key])
    stack_cos = {h: best_cosines(*stack_matrix, stack_vectors[h]) for h in stack}

    def reference(
        name: str, extra: Callable[[str, str], np.ndarray], stack_extra: Callable[[str], np.ndarray]
    ) -> MethodResult:
        runs = {}
        for corpus in corpora:
            for key, rows in corpus.sets.items():
                runs[key] = scored_run(
                    corpus.articles, rows, cosines[key] + extra(corpus.name, key)
                )
        stack_result = {}
        for half in stack:
            scores = stack_cos[half] + stack_extra(half)
            ranked = np.argsort(-scores, axis=1, kind="stable")[:, :RANK_DEPTH] + 1  # ids 1..
            stack_result[half] = ranking(ranked.tolist(), stack[half])
        return judge(name, runs, base, stack_result["dev"], stack_result["test"])

    bm25 = {key: bm25_scores(c.articles, texts[key]) for c in corpora for key in c.sets}
    stack_bm25 = {h: bm25_scores(stack_articles, stack[h].texts) for h in stack}
    heads = {c.name: ridge_head(*matrices[c.name]) for c in corpora}
    stack_head = ridge_head(*stack_matrix)
    head_scores = {key: heads[c.name](queries[key]) for c in corpora for key in c.sets}
    stack_head_scores = {h: stack_head(stack_vectors[h]) for h in stack}

    def relative(m: np.ndarray) -> np.ndarray:
        return m - m.max(axis=1, keepdims=True)

    def references(
        label: str,
        weights: Sequence[float],
        scores: dict[str, np.ndarray],
        stack_scores: dict[str, np.ndarray],
    ) -> list[MethodResult]:
        """A reference row per weight w: cosine + w * (scores - the query's best score)."""
        return [
            reference(
                f"{label} = {w:g}",
                lambda _c, k, w=w: w * relative(scores[k]),
                lambda h, w=w: w * relative(stack_scores[h]),
            )
            for w in weights
        ]

    lexical = references("BM25 tie-break, gamma", BM25_GAMMAS, bm25, stack_bm25)
    trained = references("ridge head, w", RIDGE_WEIGHTS, head_scores, stack_head_scores)
    best_lexical = max(lexical, key=lambda r: r.val_utility)
    best_trained = max(trained, key=lambda r: r.val_utility)

    # ---- tables
    def row(r: MethodResult, note: str = "") -> list[str]:
        return [
            r.name + note,
            f"{r.margin:.2f}",
            *(outcome(r.reports[k]) for k in ("bitext_dev", "bitext_test")),
            f"{r.stack_test[0]:.3f} / {r.stack_test[1]:.3f}",
            outcome(r.reports["clinc_test"]),
            outcome(r.reports["banking_test"]),
            f"{r.cal_utility:.4f}",
            f"{r.val_utility:.4f}",
        ]

    headers = [
        "method",
        "margin (re-chosen)",
        "Bitext dev: resolved / wrong / deflected",
        "Bitext test",
        "StackFAQ test P@1 / MRR@10",
        "CLINC150 test",
        "BANKING77-OOS test",
        "utility: CLINC150 val + Bitext dev",
        "utility: + BANKING77-OOS val",
    ]
    product_rows = [
        row(results[w], " (chosen)" if w == chosen else "" if w in CHOICE_GRID else " (sens.)")
        for w in sorted(results)
    ]
    print("## Article scoring\n")
    print(
        f"Chosen centroid weight: **{chosen:g}** (shipped: {CENTROID_WEIGHT:g}); its margin "
        f"**{results[chosen].margin:.2f}** (calibrate_policy's W = 3 utility rule). StackFAQ dev "
        f"floor (beta = 0): P@1 {floor[0]:.3f}, MRR@10 {floor[1]:.3f}.\n"
    )
    print(markdown_table(headers, product_rows))
    print("\nReference re-scorings (not product code), parameter chosen on the same objective:\n")
    print(markdown_table(headers, [row(r) for r in (*lexical, *trained)]))
    print(f"\nbest lexical: {best_lexical.name}; best trained head: {best_trained.name}")

    val_rows = [
        [
            r.name,
            f"{r.margin:.2f}",
            *(outcome(r.reports[k]) for k in VALIDATION),
            f"{r.stack_dev[0]:.3f} / {r.stack_dev[1]:.3f}",
        ]
        for r in (*(results[w] for w in sorted(results)), *lexical, *trained)
    ]
    print("\nValidation sets (resolved / wrong / deflected at the re-chosen margin):\n")
    print(
        markdown_table(
            ["method", "margin", *(NAMES[k] for k in VALIDATION), "StackFAQ dev P@1 / MRR@10"],
            val_rows,
        )
    )

    # ---- cost per query
    rng = np.random.default_rng(0)
    probe = queries["bitext_test"][:400]
    kbs: list[tuple[str, np.ndarray, np.ndarray]] = [
        (f"{c.name} ({len(c.articles)} articles)", *matrices[c.name]) for c in corpora
    ]
    kbs.append((f"StackFAQ ({len(stack_articles)} articles)", *stack_matrix))
    pool = np.vstack([m[0] for m in matrices.values()] + [stack_matrix[0]])
    seeds = pool[rng.integers(0, len(pool), 2000)]
    noise = rng.standard_normal((16000, pool.shape[1])).astype(np.float32) * 0.14
    synthetic = np.repeat(seeds, 8, axis=0) + noise
    synthetic /= np.linalg.norm(synthetic, axis=1, keepdims=True)
    kbs.append(("synthetic (2,000 articles x 8)", synthetic, np.repeat(np.arange(2000), 8)))
    cost_rows = []
    for name, vectors, owner in kbs:
        n = len(owner)
        stored = StoredPassages(
            np.ascontiguousarray(vectors, np.float32),
            owner.astype(np.int64),
            ["question"] * n,
            [""] * n,
            [""] * n,
        )
        t0 = time.perf_counter()
        index = VectorIndex(stored)
        built = (time.perf_counter() - t0) * 1e3
        plain = timing(index, probe, 0.0, limit)
        blended = timing(index, probe, CENTROID_WEIGHT, limit)
        cost_rows.append(
            [
                name,
                f"{n:,}",
                f"{built:.1f}",
                f"{plain:.3f}",
                f"{blended:.3f}",
                f"{blended - plain:+.3f}",
            ]
        )
    print(f"\nSearch cost per query (ms, mean of 400 queries, best of 3; limit = {limit}):\n")
    print(
        markdown_table(
            [
                "knowledge base",
                "passages",
                "index build incl. centroids (ms)",
                "beta = 0",
                f"beta = {CENTROID_WEIGHT:g}",
                "added",
            ],
            cost_rows,
        )
    )
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
