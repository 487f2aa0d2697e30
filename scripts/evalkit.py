"""Shared helpers of the evaluation scripts in `scripts/`.

- dataset loading (StackFAQ, CLINC150, BANKING77-OOS) from the shared datasets folder, which is
  read in place and never copied into the repo, and the scripts' `--datasets` option;
- the product's embedder and vector index built over an in-memory knowledge base, using the
  product code (`app.kb.passages`, `app.kb.vector_index`) unchanged;
- the BM25 tokenizer of the lexical baselines, ranking and answer/abstain metric functions, a
  cluster bootstrap;
- Markdown tables and the run details (date, machine, command) of the generated sections of
  docs/EVALUATION.md (written with `scripts.reportkit.write_doc_section`).

The scripts are run from the repo root as `python scripts/<name>.py`; each puts the repo root on
`sys.path` before importing `app` or this module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from app.config import RetrievalSettings, bundled_model_path  # noqa: E402
from app.kb.passages import article_passages  # noqa: E402
from app.kb.vector_index import StoredPassages, VectorIndex  # noqa: E402
from app.nlp.embedder import Embedder  # noqa: E402
from scripts.reportkit import command_line, machine_description  # noqa: E402

DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
MODEL_CACHE = REPO_ROOT / "data" / "models"
CHUNK_WORDS = RetrievalSettings().chunk_words  # the product's default body chunk size (120)
ENCODE_BATCH = 256
INTENT_DATASETS_HELP = "folder holding clinc150/ and banking77_oos/ (default: ../shared/datasets)"
_TOKEN = re.compile(r"[a-z0-9]+")

# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class FaqPair:
    """One StackFAQ item: a thread's question with one of its answers."""

    faq_id: str
    thread_id: str
    question: str
    answer: str


@dataclass(frozen=True)
class Query:
    """One StackFAQ user query (a paraphrase of its thread's question)."""

    query_id: str
    thread_id: str
    text: str


@dataclass(frozen=True)
class StackFaq:
    """The StackFAQ files: FAQ pairs (file order), queries (file order) and relevance."""

    faqs: list[FaqPair]
    queries: list[Query]
    qrels: dict[str, set[str]]  # query_id -> relevant faq_ids


def read_jsonl(path: Path) -> list[dict]:
    """Every non-blank line of a JSON-lines file, parsed."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_lines(path: Path) -> list[str]:
    """The lines of a text file without their line ends (DNNC `seq.in` / `label` files)."""
    return path.read_text(encoding="utf-8").splitlines()


def add_datasets_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The scripts' `--datasets DIR` option: the shared datasets root (default DEFAULT_DATASETS,
    `../shared/datasets` beside the repo)."""
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help=help)


def require_dir(folder: Path) -> Path:
    """`folder` if it is a directory; otherwise exit with a message naming --datasets."""
    if not folder.is_dir():
        sys.exit(f"dataset folder not found: {folder} (point --datasets at the datasets root)")
    return folder


def load_stackfaq(folder: Path) -> StackFaq:
    """StackFAQ as described in its SOURCE.md (719 FAQ pairs, 1,249 queries, qrels)."""
    faqs = [
        FaqPair(r["faq_id"], r["thread_id"], r["question"], r["answer"])
        for r in read_jsonl(folder / "faq_pairs.jsonl")
    ]
    queries = [
        Query(r["query_id"], r["thread_id"], r["text"])
        for r in read_jsonl(folder / "queries.jsonl")
    ]
    qrels: dict[str, set[str]] = defaultdict(set)
    lines = read_lines(folder / "qrels.tsv")
    for line in lines[1:]:  # header: query_id faq_id relevance
        query_id, faq_id, relevance = line.split("\t")
        if int(relevance) > 0:
            qrels[query_id].add(faq_id)
    return StackFaq(faqs, queries, dict(qrels))


Labelled = list[tuple[str, str]]  # (text, intent or "oos")


def load_clinc150(folder: Path) -> dict[str, Labelled]:
    """CLINC150 `data_full.json`: train, val, test, oos_train, oos_val, oos_test."""
    data = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    return {split: [(text, label) for text, label in rows] for split, rows in data.items()}


def load_dnnc(folder: Path) -> Labelled:
    """A DNNC-format folder: line-aligned `seq.in` and `label`."""
    texts = read_lines(folder / "seq.in")
    labels = read_lines(folder / "label")
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} texts but {len(labels)} labels")
    return list(zip(texts, labels, strict=True))


def load_banking77_oos(folder: Path) -> dict[str, Labelled]:
    """BANKING77-OOS parts: train / valid / test (50 in-scope intents) and the id-oos / ood-oos
    test sets (label `oos`)."""
    return {
        "train": load_dnnc(folder / "train"),
        "valid": load_dnnc(folder / "valid"),
        "test": load_dnnc(folder / "test"),
        "id_oos_test": load_dnnc(folder / "id-oos" / "test"),
        "ood_oos_test": load_dnnc(folder / "ood-oos" / "test"),
    }


# --------------------------------------------------------------------------- product retrieval


@dataclass(frozen=True)
class Article:
    """An in-memory knowledge-base article, shaped like the product's."""

    title: str
    body: str
    questions: tuple[str, ...] = ()


def load_embedder() -> Embedder:
    """The product's bundled encoder on the ONNX backend (exported once into data/models)."""
    return Embedder(bundled_model_path(), backend="onnx", cache_dir=MODEL_CACHE)


def encode_batched(
    embedder: Embedder, texts: Sequence[str], batch: int = ENCODE_BATCH
) -> np.ndarray:
    """Unit vectors for `texts`, encoded `batch` texts at a time to bound memory."""
    parts = [embedder.encode(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def build_index(
    embedder: Embedder, articles: Sequence[Article], *, max_words: int = CHUNK_WORDS
) -> VectorIndex:
    """The product's index over `articles`; article id = position in `articles`.

    Passages come from `article_passages` exactly as the product makes them (title, alternate
    questions, body chunks), and the product's `VectorIndex` scores an article by its best
    passage.
    """
    ids: list[int] = []
    kinds: list[str] = []
    texts: list[str] = []
    hashes: list[str] = []
    for article_id, article in enumerate(articles):
        digest = hashlib.sha256(
            json.dumps([article.title, article.body, list(article.questions)]).encode()
        ).hexdigest()
        for passage in article_passages(
            article.title, article.body, list(article.questions), max_words=max_words
        ):
            ids.append(article_id)
            kinds.append(passage.kind)
            texts.append(passage.text)
            hashes.append(digest)
    vectors = encode_batched(embedder, texts)
    stored = StoredPassages(vectors, np.asarray(ids, dtype=np.int64), kinds, texts, hashes)
    return VectorIndex(stored)


def top_hits(index: VectorIndex, query_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the product's top article id and its score (what the policy compares with
    the answer threshold)."""
    ids = np.empty(len(query_vectors), dtype=np.int64)
    scores = np.empty(len(query_vectors), dtype=np.float64)
    for i, vector in enumerate(query_vectors):
        article_id, score, _kind = index.search(vector, articles=1)[0]
        ids[i] = article_id
        scores[i] = score
    return ids, scores


# --------------------------------------------------------------------------- ranking metrics


def tokenizer(keep_stopwords: bool = False) -> Callable[[str], list[str]]:
    """The BM25 tokenizer: lowercase `[a-z0-9]+` runs, by default without scikit-learn's English
    stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop = frozenset() if keep_stopwords else ENGLISH_STOP_WORDS

    def tokenize(text: str) -> list[str]:
        return [token for token in _TOKEN.findall(text.lower()) if token not in stop]

    return tokenize


def precision_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """Fraction of the first k ranks that are relevant (standard P@k: divides by k)."""
    return sum(1 for item in ranked[:k] if item in relevant) / k


def hit_at_k(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """1 when any of the first k is relevant, else 0."""
    return float(any(item in relevant for item in ranked[:k]))


def reciprocal_rank(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """1 / rank of the first relevant item within the first k, else 0 (MRR@k per query)."""
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


RANKING_METRICS = ("P@1", "P@5", "Hit@5", "MRR@10")


def ranking_metrics(ranked: Sequence[int], relevant: set[int]) -> tuple[float, ...]:
    """P@1, P@5, Hit@5 and MRR@10 of one ranked list (order of `RANKING_METRICS`)."""
    return (
        precision_at_k(ranked, relevant, 1),
        precision_at_k(ranked, relevant, 5),
        hit_at_k(ranked, relevant, 5),
        reciprocal_rank(ranked, relevant, 10),
    )


def rank_by_score(scores: np.ndarray, k: int | None = None) -> list[int]:
    """Article ids by descending score, ties broken by ascending id (deterministic)."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in (order if k is None else order[:k])]


def cluster_bootstrap_ci(
    values: np.ndarray,
    clusters: Sequence[str],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile CI of the mean of per-query `values`, resampling whole clusters (threads), since
    queries of one thread are not independent."""
    keys = sorted(set(clusters))
    position = {key: i for i, key in enumerate(keys)}
    sums = np.zeros(len(keys))
    counts = np.zeros(len(keys))
    for value, cluster in zip(values, clusters, strict=True):
        sums[position[cluster]] += value
        counts[position[cluster]] += 1
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), size=(resamples, len(keys)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


# --------------------------------------------------------------------------- answer / abstain


def intent_articles(
    train: Labelled, *, per_intent: int = 5, seed: int = 0
) -> tuple[list[str], list[Article]]:
    """One article per intent of `train`: title = intent name with underscores as spaces,
    alternate questions = `per_intent` training examples drawn with `random.Random(seed)`
    (intents in sorted order, examples in file order), empty body."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in train:
        if intent != "oos":
            by_intent[intent].append(text)
    rng = random.Random(seed)
    intents = sorted(by_intent)
    articles = [
        Article(intent.replace("_", " "), "", tuple(rng.sample(by_intent[intent], per_intent)))
        for intent in intents
    ]
    return intents, articles


@dataclass(frozen=True)
class AnswerMetrics:
    """Outcome of answering when the top score >= threshold (rates in 0..1)."""

    threshold: float
    answer_rate: float  # in-scope queries answered
    correct_rate: float  # in-scope queries answered with their own intent's article
    precision: float  # correct among answered in-scope queries
    wrong_rate: float  # in-scope queries answered with another intent's article
    oos_rejection: float  # out-of-scope queries not answered
    balanced_accuracy: float  # 0.5 * correct_rate + 0.5 * oos_rejection


def answer_metrics(
    threshold: float, in_scores: np.ndarray, in_correct: np.ndarray, oos_scores: np.ndarray
) -> AnswerMetrics:
    """Metrics of the policy "answer iff top score >= threshold" on labelled queries."""
    answered = in_scores >= threshold
    n_answered = int(answered.sum())
    correct = int((answered & in_correct).sum())
    correct_rate = correct / len(in_scores)
    rejection = float((oos_scores < threshold).mean()) if len(oos_scores) else float("nan")
    return AnswerMetrics(
        threshold=threshold,
        answer_rate=n_answered / len(in_scores),
        correct_rate=correct_rate,
        precision=correct / n_answered if n_answered else float("nan"),
        wrong_rate=(n_answered - correct) / len(in_scores),
        oos_rejection=rejection,
        balanced_accuracy=0.5 * correct_rate + 0.5 * rejection,
    )


def threshold_grid(low: float = 0.30, high: float = 0.90, step: float = 0.01) -> list[float]:
    """Candidate thresholds low..high inclusive, rounded to 2 decimals."""
    count = round((high - low) / step)
    return [round(low + i * step, 2) for i in range(count + 1)]


def best_threshold(
    grid: Iterable[float], in_scores: np.ndarray, in_correct: np.ndarray, oos_scores: np.ndarray
) -> AnswerMetrics:
    """The grid threshold with the highest balanced accuracy (ties: the lowest threshold)."""
    best: AnswerMetrics | None = None
    for t in grid:
        metrics = answer_metrics(t, in_scores, in_correct, oos_scores)
        if best is None or metrics.balanced_accuracy > best.balanced_accuracy:
            best = metrics
    if best is None:
        raise ValueError("empty threshold grid")
    return best


# --------------------------------------------------------------------------- reporting


def fmt(value: float, digits: int = 3) -> str:
    """A rate for a table ("n/a" for NaN)."""
    return "n/a" if value != value else f"{value:.{digits}f}"


def signed(value: float, digits: int = 3) -> str:
    """A difference for a table, always signed."""
    return f"{value:+.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; the first column left-aligned, the rest right."""
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_details(seconds: float) -> str:
    """The "how this was produced" lines of a generated section."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"- Date: {stamp}",
            f"- Machine: {machine_description()}; Python {platform.python_version()}",
            f"- Command (from the repo root): `{command_line()}`",
            f"- Wall time: {seconds:.0f} s (model load, encoding and all systems)",
        ]
    )
