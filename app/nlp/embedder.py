"""Loads the sentence-transformers encoder once, offline, on the fastest backend that works.

The ONNX backend gives the same vectors as torch at a fraction of the single-query latency on
CPU. The model is exported to ONNX once into the data folder and reused after; if ONNX cannot
load, torch is the fallback.

For the usual sentence-transformers pipeline (transformer, mean pooling, optional
normalisation) on ONNX, `encode` runs the export's tokenizer (`tokenizers`) and ONNX session
directly and pools in numpy: the same vectors as `SentenceTransformer.encode`, without its
torch glue. That glue holds the GIL (mean pooling alone took 11% of the encoder thread's time
under load, mostly waiting for the GIL held by the event loop), and the encoder thread waiting
for the GIL leaves ONNX Runtime's cores idle. That path is also safe to call from several
threads at once, so the service runs one encoder call per core, each on one core (`workers`):
for the short texts of a chat, measured here, that costs about a quarter less CPU per sentence
than one call spread over both cores.

The first start of an export loads it through sentence-transformers, checks the direct path
against it on a few probe texts and saves what the direct path needs beside the export
(`DIRECT_SPEC`) with the probes' vectors (`PROBE_VECTORS`); later starts load the export
directly, encode the probes again and compare, and never import sentence-transformers,
transformers or torch (3.4 s and about 370 MiB of the service's resident memory). A spec that
fails that comparison is checked again through sentence-transformers; an export that does not
load at all (a truncated file) is exported again. Only if that fails too does torch serve, with
the reason in `fallback_reason` (logged as an error and shown on /readyz).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from app.config import Settings

log = logging.getLogger(__name__)

Backend = Literal["onnx", "torch"]
# On the torch fallback a customer message is cut at this many characters per allowed token
# (English averages about four; the cut only has to bound the cost).
MESSAGE_CHARS_PER_TOKEN = 6


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


# What the direct path needs to know about an export, written next to it once the direct path
# has been checked against sentence-transformers on that export (`_DirectSpec`).
DIRECT_SPEC = "switchboard-direct.json"
DIRECT_SPEC_FORMAT = 1
# The direct path's vectors of `_PROBES` when its spec was checked: every later start encodes
# the probes again and compares, so a damaged export or spec is caught before it serves.
PROBE_VECTORS = "switchboard-probes.npy"
# Texts the direct path must encode as sentence-transformers does before its spec is written:
# several lengths in one batch (padding), one past the token limit (truncation), case, accents,
# emoji, a blank.
_PROBES = [
    "Where is my order LS-104233?",
    "HOW DO I RESET MY PASSWORD",
    "Café ☕ naïve façade",
    "refund " * 400,
    "   ",
    "ok",
]


@dataclass(frozen=True)
class _DirectSpec:
    """How the export's pipeline encodes: its ONNX file, the tokenizer's padding and truncation
    as sentence-transformers calls it, and the output's size. Read from the loaded
    sentence-transformers model once; later starts need neither it nor torch."""

    onnx_file: str
    inputs: tuple[str, ...]
    max_length: int
    pad_id: int
    pad_type_id: int
    pad_token: str
    padding_side: str
    truncation_side: str
    dimension: int
    ignores_case: bool

    @classmethod
    def of(cls, model: SentenceTransformer, folder: Path) -> _DirectSpec:
        """The spec of `model` (loaded from `folder`), or ValueError for another pipeline."""
        # Any: torch types a module's attributes as Tensor | Module; these (tokenizer,
        # auto_model, max_seq_length) are the Transformer module's, checked by name below.
        modules: list[Any] = list(model)
        names = [type(m).__name__ for m in modules]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ValueError(f"not a transformer + mean pooling pipeline: {names}")
        transformer, pooling = modules[0], modules[1]
        config = pooling.get_config_dict()
        if config.get("pooling_mode") != "mean" or not config.get("include_prompt", True):
            raise ValueError(f"pooling is not a plain mean: {config}")
        if getattr(transformer, "do_lower_case", False):
            raise ValueError("the module lowercases texts itself")
        tokenizer = transformer.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("the tokenizer is not a fast (tokenizers) one")
        if not (folder / "tokenizer.json").exists():
            raise ValueError("the export has no tokenizer.json")
        session = transformer.auto_model.model  # optimum's onnxruntime.InferenceSession
        onnx_file = Path(session._model_path).resolve().relative_to(folder.resolve())
        inputs = tuple(i.name for i in session.get_inputs())
        outputs = [o.name for o in session.get_outputs()]
        if "last_hidden_state" not in outputs or not set(inputs) <= {
            "input_ids",
            "attention_mask",
            "token_type_ids",
        }:
            raise ValueError(f"unexpected ONNX signature: {inputs} -> {outputs}")
        return cls(
            onnx_file=onnx_file.as_posix(),
            inputs=inputs,
            max_length=int(transformer.max_seq_length),
            pad_id=int(tokenizer.pad_token_id),
            pad_type_id=int(tokenizer.pad_token_type_id),
            pad_token=str(tokenizer.pad_token),
            padding_side=str(tokenizer.padding_side),
            truncation_side=str(tokenizer.truncation_side),
            dimension=int(model.get_embedding_dimension() or 0),
            ignores_case=bool(getattr(tokenizer, "do_lower_case", False)),
        )

    @classmethod
    def read(cls, folder: Path) -> _DirectSpec | None:
        """The spec saved in `folder`, or None (none yet, another format, unreadable)."""
        try:
            saved = json.loads((folder / DIRECT_SPEC).read_text(encoding="utf-8"))
            if saved.pop("format", None) != DIRECT_SPEC_FORMAT:
                return None
            saved["inputs"] = tuple(saved["inputs"])
            return cls(**saved)
        except (OSError, ValueError, TypeError):
            return None

    def write(self, folder: Path) -> None:
        """Save the spec in `folder` atomically (a reader sees the whole file or none)."""
        text = json.dumps({"format": DIRECT_SPEC_FORMAT, **asdict(self)}, indent=2)
        tmp = folder / f".{DIRECT_SPEC}.tmp-{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / DIRECT_SPEC)


class _OnnxMeanPooling:
    """Tokenizer -> ONNX session -> masked mean -> L2 norm, as the sentence-transformers
    modules `Transformer` + `Pooling(mean)` (+ `Normalize`) compute it, on numpy arrays, with
    the export's own files: `tokenizers` and ONNX Runtime, no torch.

    The tokenizer is set up once (padding to the longest text, truncation at the model's
    limit, as sentence-transformers asks of it) and only read after, so several threads may
    encode at once; `tokenizers` releases the GIL while it works."""

    BATCH = 64

    def __init__(self, folder: Path, spec: _DirectSpec, threads: int) -> None:
        import onnxruntime

        self.spec = spec
        self._session = onnxruntime.InferenceSession(
            str(folder / spec.onnx_file),
            sess_options=_session_options(threads),
            providers=["CPUExecutionProvider"],
        )
        self._folder = folder
        self._tokenizer = self._load_tokenizer(spec.max_length)
        # Tokenizers that stop at fewer tokens (customer messages), made once per limit.
        self._shorter: dict[int, Any] = {}
        self._shorter_lock = threading.Lock()

    def _load_tokenizer(self, max_length: int) -> Any:
        from tokenizers import Tokenizer

        spec = self.spec
        tokenizer = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
        tokenizer.enable_truncation(
            max_length, stride=0, strategy="longest_first", direction=spec.truncation_side
        )
        tokenizer.enable_padding(
            direction=spec.padding_side,
            pad_id=spec.pad_id,
            pad_type_id=spec.pad_type_id,
            pad_token=spec.pad_token,
        )
        return tokenizer

    def _tokenizer_for(self, max_tokens: int) -> Any:
        if not 0 < max_tokens < self.spec.max_length:
            return self._tokenizer
        with self._shorter_lock:
            tokenizer = self._shorter.get(max_tokens)
            if tokenizer is None:
                tokenizer = self._shorter[max_tokens] = self._load_tokenizer(max_tokens)
            return tokenizer

    def encode(self, texts: list[str], *, max_tokens: int = 0) -> np.ndarray:
        """Unit vectors of `texts` (batches of similar length, like sentence-transformers),
        each read up to `max_tokens` tokens (0: the model's limit)."""
        tokenizer = self._tokenizer_for(max_tokens)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), self.BATCH):
            batch = [texts[i].strip() for i in order[start : start + self.BATCH]]
            encodings = tokenizer.encode_batch(batch)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {}
            for name in self.spec.inputs:
                if name == "attention_mask":
                    feeds[name] = mask
                elif name == "input_ids":
                    feeds[name] = np.array([e.ids for e in encodings], dtype=np.int64)
                else:  # token_type_ids
                    feeds[name] = np.array([e.type_ids for e in encodings], dtype=np.int64)
            hidden = self._session.run(["last_hidden_state"], feeds)[0]
            weights = mask[:, :, None].astype(hidden.dtype)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            vectors.append(pooled / np.maximum(norms, 1e-12))
        result = np.empty((len(texts), vectors[0].shape[1]), dtype=np.float32)
        result[order] = np.vstack(vectors)
        return result


def _check_same_vectors(direct: _OnnxMeanPooling, model: SentenceTransformer) -> None:
    """ValueError unless `direct` encodes the probe texts as sentence-transformers does."""
    want = model.encode(
        _PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    gap = float(np.abs(direct.encode(_PROBES) - want).max())
    if gap > 1e-5:
        raise ValueError(f"the direct path differs from sentence-transformers by {gap:.1e}")


def _save_probes(direct: _OnnxMeanPooling, folder: Path) -> None:
    """Save the direct path's vectors of the probe texts beside the export (`PROBE_VECTORS`),
    once they are checked against sentence-transformers."""
    tmp = folder / f".{PROBE_VECTORS}.tmp-{os.getpid()}"
    with open(tmp, "wb") as out:
        np.save(out, direct.encode(_PROBES), allow_pickle=False)
    tmp.replace(folder / PROBE_VECTORS)


def _check_probes(direct: _OnnxMeanPooling, folder: Path) -> None:
    """ValueError unless `direct` gives the probe texts the vectors saved when its spec was
    checked (a damaged export or spec gives others; a missing file fails too)."""
    want = np.load(folder / PROBE_VECTORS, allow_pickle=False)
    got = direct.encode(_PROBES)
    if want.shape != got.shape:
        raise ValueError(f"probe vectors of shape {got.shape}, saved {want.shape}")
    gap = float(np.abs(got - want).max())
    if gap > 1e-5:
        raise ValueError(f"the probe texts' vectors differ from the checked ones by {gap:.1e}")


def _discard(folder: Path) -> None:
    """Remove a damaged export (moved aside first, so no reader sees it half-removed)."""
    aside = folder.with_name(f"{folder.name}.damaged-{os.getpid()}")
    with contextlib.suppress(OSError):
        folder.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)


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
        self.backend: Backend = backend
        # Why ONNX was asked for and torch runs instead (shown on /readyz), else None.
        self.fallback_reason: str | None = None
        self._model: SentenceTransformer | None = None
        self._direct: _OnnxMeanPooling | None = None
        planned = workers or (_cores() if backend == "onnx" else 1)
        per_call = threads or max(1, _cores() // planned)
        self.threads = per_call
        if backend == "onnx":
            try:
                self._start_onnx(model, cache_dir, per_call, fixed_threads=bool(threads))
            except Exception as exc:  # any ONNX failure falls back to torch, loudly
                log.error("ONNX backend unavailable (%s); falling back to torch", exc)
                self.backend = "torch"
                self.fallback_reason = f"ONNX backend unavailable: {type(exc).__name__}: {exc}"
        if self.backend == "torch":
            from sentence_transformers import SentenceTransformer  # slow import: only when used

            self.threads = threads or _cores()
            try:
                self._model = SentenceTransformer(model, device="cpu")
                if threads:
                    import torch

                    torch.set_num_threads(threads)
            except Exception as exc:
                raise EmbedderError(f"cannot load embedding model {model!r}: {exc}") from exc
        self.workers = planned if self._direct is not None else 1
        self.key = f"{_model_key(model)}"
        if self._direct is not None:
            self.dimension: int = self._direct.spec.dimension
            # BERT-style uncased tokenizers lowercase every text before anything else.
            self.ignores_case: bool = self._direct.spec.ignores_case
        else:
            assert self._model is not None
            self.dimension = int(self._model.get_embedding_dimension() or 0)
            tokenizer = getattr(self._model, "tokenizer", None)
            self.ignores_case = bool(getattr(tokenizer, "do_lower_case", False))

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """The configured encoder, exported to ONNX the first time (slow: call it off the
        event loop). Never downloads: the model is loaded by path."""
        return cls(
            settings.embedding_model,
            backend=settings.embedding.backend,
            cache_dir=settings.model_cache_dir,
            threads=settings.embedding.threads,
            workers=settings.embedding.workers,
        )

    def cache_key(self, text: str) -> str:
        """A key equal for texts this model gives the same vector: whitespace runs collapsed
        (the tokenizer splits on any of them) and, when the tokenizer lowercases, lowercased.
        Texts the model may tell apart never share a key."""
        key = " ".join(text.split())
        return key.lower() if self.ignores_case else key

    def _start_onnx(self, model: str, cache_dir: Path, threads: int, fixed_threads: bool) -> None:
        """Load the ONNX export of `model` (exporting it the first time): directly when a
        checked spec of it is saved, else through sentence-transformers, checking the direct
        path against it and saving the spec for the next start."""
        folder = self._export_onnx(model, cache_dir)
        try:
            self._load_onnx(folder, threads, fixed_threads)
        except Exception as exc:  # a damaged export (a truncated file): export it again, once
            log.warning("the ONNX export in %s does not load (%s): exporting it again", folder, exc)
            _discard(folder)
            folder = self._export_onnx(model, cache_dir)
            self._load_onnx(folder, threads, fixed_threads)

    def _load_onnx(self, folder: Path, threads: int, fixed_threads: bool) -> None:
        """Load the export in `folder`: directly when its saved spec still gives the vectors
        saved with it, else through sentence-transformers (see `_start_onnx`)."""
        spec = _DirectSpec.read(folder)
        if spec is not None:
            try:
                direct = _OnnxMeanPooling(folder, spec, threads)
                _check_probes(direct, folder)
                self._direct = direct
                return
            except Exception as exc:  # a damaged export or spec: the full path checks again
                log.warning("the saved direct encoder fails its check (%s): checking again", exc)
        from sentence_transformers import SentenceTransformer  # slow import: only when needed

        def load(threads: int) -> SentenceTransformer:
            return SentenceTransformer(
                str(folder),
                device="cpu",
                backend="onnx",
                model_kwargs={"session_options": _session_options(threads)},
            )

        loaded = load(threads)
        try:
            spec = _DirectSpec.of(loaded, folder)
            direct = _OnnxMeanPooling(folder, spec, threads)
            _check_same_vectors(direct, loaded)
        except Exception as exc:  # another pipeline: sentence-transformers runs it
            log.info("encoding through sentence-transformers (%s)", exc)
            if threads < _cores() and not fixed_threads:  # one call at a time: every core
                self.threads = _cores()
                loaded = load(self.threads)
            self._model = loaded
            return
        try:
            _save_probes(direct, folder)
            spec.write(folder)
        except OSError as exc:  # a read-only cache: the next start checks again
            log.warning("cannot save the direct encoder's spec in %s: %s", folder, exc)
        self._direct = direct

    @staticmethod
    def _export_onnx(model: str, cache_dir: Path) -> Path:
        """The folder of the ONNX export of `model` in the cache, exported there the first
        time (the only step that needs torch)."""
        target = cache_dir / f"onnx-{_model_key(model)}"
        if (target / "onnx" / "model.onnx").exists():
            return target
        from sentence_transformers import SentenceTransformer

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
        return target

    def encode_messages(self, texts: list[str], *, max_tokens: int) -> np.ndarray:
        """Vectors of customer messages: as `encode`, but each read up to `max_tokens`
        tokens (0: the model's limit), so that a long message costs at most that much. The
        torch fallback, whose tokenizer is not set per call, cuts the text at
        `MESSAGE_CHARS_PER_TOKEN` characters per token instead."""
        if self._direct is None and max_tokens > 0:
            texts = [t[: max_tokens * MESSAGE_CHARS_PER_TOKEN] for t in texts]
        return self.encode(texts, max_tokens=max_tokens)

    def encode(self, texts: list[str], *, max_tokens: int = 0) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dimension), unit length; on the direct
        path each text is read up to `max_tokens` tokens (0: the model's limit)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            if self._direct is not None:
                return self._direct.encode(texts, max_tokens=max_tokens)
            assert self._model is not None
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
