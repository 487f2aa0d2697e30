"""Loads the sentence-transformers encoder once, offline, on the fastest backend that works.

The ONNX backend gives the same vectors as torch at a fraction of the single-query latency on
CPU. The model is exported to ONNX once into the data folder and reused after; if ONNX cannot
load, torch is the fallback.

For the usual sentence-transformers pipeline (transformer, mean pooling, optional
normalisation) on ONNX, `encode` runs the tokenizer and the ONNX session directly and pools in
numpy: the same vectors as `SentenceTransformer.encode`, without its torch glue. That glue
holds the GIL (mean pooling alone took 11% of the encoder thread's time under load, mostly
waiting for the GIL held by the event loop), and the encoder thread waiting for the GIL leaves
ONNX Runtime's cores idle. That path is also safe to call from several threads at once (one
ONNX session, the tokenizer behind a lock), so the service runs one encoder call per core, each
on one core (`workers`): for the short texts of a chat, measured here, that costs about a
quarter less CPU per sentence than one call spread over both cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

Backend = Literal["onnx", "torch"]


class EmbedderError(RuntimeError):
    """The encoder could not be loaded or could not encode."""


def _model_key(model: str) -> str:
    """A short stable key naming an exported copy of `model`."""
    path = Path(model)
    stamp = model
    if path.exists():
        weights = sorted(p for p in path.rglob("*") if p.is_file())
        stamp += "".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights)
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def _session_options(threads: int) -> object:
    """ONNX Runtime options: `threads` intra-op threads (0: one per core), and no spin-waiting.

    Spinning threads keep a core busy after every encode, which on a small machine steals it
    from the event loop and the database; measured here, turning it off costs nothing per query.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or _cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence the tracer warnings and "save the export" advice of a one-off ONNX export."""
    library_log = logging.getLogger("sentence_transformers")
    level = library_log.level
    library_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        library_log.setLevel(level)


class _OnnxMeanPooling:
    """Tokenizer -> ONNX session -> masked mean -> L2 norm, as the sentence-transformers
    modules `Transformer` + `Pooling(mean)` (+ `Normalize`) compute it, on numpy arrays."""

    BATCH = 64

    def __init__(self, model: SentenceTransformer) -> None:
        modules = list(model)
        names = [type(m).__name__ for m in modules]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ValueError(f"not a transformer + mean pooling pipeline: {names}")
        transformer, pooling = modules[0], modules[1]
        config = pooling.get_config_dict()
        if config.get("pooling_mode") != "mean" or not config.get("include_prompt", True):
            raise ValueError(f"pooling is not a plain mean: {config}")
        if getattr(transformer, "do_lower_case", False):
            raise ValueError("the module lowercases texts itself")
        self._session = transformer.auto_model.model  # optimum's onnxruntime.InferenceSession
        self._inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        if "last_hidden_state" not in outputs or not set(self._inputs) <= {
            "input_ids",
            "attention_mask",
            "token_type_ids",
        }:
            raise ValueError(f"unexpected ONNX signature: {self._inputs} -> {outputs}")
        self._tokenizer = transformer.tokenizer
        # A fast tokenizer called with padding/truncation options mutates its own settings:
        # two threads inside it at once fail ("Already borrowed").
        self._tokenizer_lock = threading.Lock()
        self._max_length = int(transformer.max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts` (batches of similar length, like sentence-transformers)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), self.BATCH):
            batch = [texts[i].strip() for i in order[start : start + self.BATCH]]
            with self._tokenizer_lock:
                tokens = self._tokenizer(
                    batch,
                    padding=True,
                    truncation="longest_first",
                    max_length=self._max_length,
                    return_tensors="np",
                )
            mask = np.asarray(tokens["attention_mask"], dtype=np.int64)
            feeds = {}
            for name in self._inputs:
                value = tokens.get(name)
                feeds[name] = np.zeros_like(mask) if value is None else np.asarray(value, np.int64)
            hidden = self._session.run(["last_hidden_state"], feeds)[0]
            weights = mask[:, :, None].astype(hidden.dtype)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            vectors.append(pooled / np.maximum(norms, 1e-12))
        result = np.empty((len(texts), vectors[0].shape[1]), dtype=np.float32)
        result[order] = np.vstack(vectors)
        return result


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Embedder:
    """Encodes texts into L2-normalised float32 vectors with one loaded model.

    `workers`: how many threads will call `encode` at once (the micro-batcher's workers);
    0 means one per core where that is safe (the direct ONNX path), else 1. `threads`: the
    threads each call uses; 0 shares the cores among the workers. After loading, `workers`
    is what is safe: 1 unless the direct ONNX path runs.
    """

    def __init__(
        self,
        model: str,
        *,
        backend: Backend,
        cache_dir: Path,
        threads: int = 0,
        workers: int = 1,
    ) -> None:
        from sentence_transformers import SentenceTransformer  # slow import: only when used

        self.model_name = model
        self.backend: Backend = backend
        self._model: SentenceTransformer
        planned = workers or (_cores() if backend == "onnx" else 1)
        per_call = threads or max(1, _cores() // planned)
        self.threads = per_call
        self._direct: _OnnxMeanPooling | None = None
        if backend == "onnx":
            try:
                self._model = self._load_onnx(model, cache_dir, per_call)
            except Exception as exc:  # any ONNX failure falls back to torch, loudly
                log.warning("ONNX backend unavailable (%s); falling back to torch", exc)
                self.backend = "torch"
        if self.backend == "onnx":
            try:
                self._direct = _OnnxMeanPooling(self._model)
            except Exception as exc:  # another pipeline: sentence-transformers runs it
                log.info("encoding through sentence-transformers (%s)", exc)
                if per_call < _cores() and not threads:  # one call at a time: every core
                    self.threads = _cores()
                    self._model = self._load_onnx(model, cache_dir, self.threads)
        if self.backend == "torch":
            self.threads = threads or _cores()
            try:
                self._model = SentenceTransformer(model, device="cpu")
                if threads:
                    import torch

                    torch.set_num_threads(threads)
            except Exception as exc:
                raise EmbedderError(f"cannot load embedding model {model!r}: {exc}") from exc
        self.workers = planned if self._direct is not None else 1
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.key = f"{_model_key(model)}"
        # BERT-style uncased tokenizers lowercase every text before anything else.
        tokenizer = getattr(self._model, "tokenizer", None)
        self.ignores_case = bool(getattr(tokenizer, "do_lower_case", False))

    def cache_key(self, text: str) -> str:
        """A key equal for texts this model gives the same vector: whitespace runs collapsed
        (the tokenizer splits on any of them) and, when the tokenizer lowercases, lowercased.
        Texts the model may tell apart never share a key."""
        key = " ".join(text.split())
        return key.lower() if self.ignores_case else key

    @staticmethod
    def _load_onnx(model: str, cache_dir: Path, threads: int) -> SentenceTransformer:
        """Load the ONNX export of `model` from the cache, exporting it there the first time."""
        from sentence_transformers import SentenceTransformer

        target = cache_dir / f"onnx-{_model_key(model)}"
        if not (target / "onnx" / "model.onnx").exists():
            log.info("exporting %s to ONNX in %s (once)", model, target)
            with _quiet_export():
                exported = SentenceTransformer(model, device="cpu", backend="onnx")
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f"{target.name}.tmp-"))
            try:
                exported.save_pretrained(str(tmp))
                tmp.rename(target)  # atomic; fails if another process got there first
            except OSError:
                if not (target / "onnx" / "model.onnx").exists():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return SentenceTransformer(
            str(target),
            device="cpu",
            backend="onnx",
            model_kwargs={"session_options": _session_options(threads)},
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dimension), unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            if self._direct is not None:
                return self._direct.encode(texts)
            vectors = self._model.encode(
                texts,
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbedderError(f"encoding failed: {exc}") from exc
        return np.ascontiguousarray(vectors, dtype=np.float32)
