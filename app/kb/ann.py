"""The FAISS index over passage vectors, chosen by the knowledge base's size, and persisted.

Up to `exact_max` passages (20,000 by default) the index is exact (`IndexFlatIP`): one query scans
every vector, which is memory-bound: about 0.6 ms per 10,000 on one thread of this project's 2-core
reference machine, 11-13 ms per 100,000, and every answer is the true nearest. Above it the index
is an inverted file (`IndexIVFFlat`, inner product): k-means cuts the vectors into `nlist` lists (a
power of two near 4 * sqrt(n), 4,096 for a million) and a query scans the `nprobe` lists whose
centroids are nearest (`nlist / 64` by default, at least 32: 64 of 4,096 at a million).
`scripts/bench_search_scale.py` measured the choice (build time, memory, p50/p99 and recall@10
against exact search from 1,000 to 1,000,000 passages; the table is in docs/BENCHMARKS.md) and
chose `nprobe` on one set of queries and reported it on another.

Training an IVF index is the slow part of building one (k-means over a sample of at most
`TRAIN_PER_LIST * nlist` vectors), so a rebuild after an edit reuses the live index's trained
centroids when the list count is unchanged, and only re-adds the vectors. The built index is
written next to the passage store under the store's build id, so a restart with nothing changed
reads it back instead of building it again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

log = logging.getLogger(__name__)

INDEX_FILE = "passages.faiss"
INDEX_META_FILE = "passages.faiss.json"
EXACT_MAX = 20_000  # exact search p99 1.4 ms here; IVF above (p50 0.5 ms at 100,000)
TRAIN_PER_LIST = 40  # k-means sample: this many vectors per list (FAISS warns below 39)
MIN_NPROBE = 32
# A query scans one list in this many (at least MIN_NPROBE): at a million passages, 64 of 4,096
# lists gave recall@10 0.997 against exact search (docs/BENCHMARKS.md, "Search at scale").
PROBED_SHARE = 64


@dataclass(frozen=True)
class IndexChoice:
    """Which FAISS index serves `rows` passages: exact, or IVF with `nlist` lists of which a
    query scans `nprobe`."""

    kind: Literal["flat", "ivf"]
    rows: int
    nlist: int = 0
    nprobe: int = 0

    def describe(self) -> str:
        """A short human description, for logs and reports."""
        if self.kind == "flat":
            return f"exact (flat) over {self.rows:,} passages"
        return f"IVF over {self.rows:,} passages: {self.nlist:,} lists, {self.nprobe} probed"


def choose_index(
    rows: int, *, exact_max: int = EXACT_MAX, nprobe: int | None = None
) -> IndexChoice:
    """The index for `rows` passages: exact up to `exact_max`, IVF above (see the module
    docstring); `nprobe` overrides the default `nlist / 64` (at least 32)."""
    if rows <= exact_max:
        return IndexChoice("flat", rows)
    nlist = 2 ** round(math.log2(4 * math.sqrt(rows)))
    nlist = max(64, min(nlist, 65_536, rows // TRAIN_PER_LIST))
    probe = nprobe if nprobe is not None else max(MIN_NPROBE, nlist // PROBED_SHARE)
    return IndexChoice("ivf", rows, nlist, min(probe, nlist))


def build_index(
    vectors: np.ndarray, choice: IndexChoice, *, trained: faiss.Index | None = None
) -> faiss.Index:
    """A FAISS index over `vectors` (unit length, float32) as `choice` says. For IVF, the
    centroids of `trained` (an IVF index with the same list count) are reused instead of
    training anew."""
    dimension = vectors.shape[1]
    if choice.kind == "flat":
        flat = faiss.IndexFlatIP(dimension)
        if len(vectors):
            flat.add(vectors)
        return flat
    quantizer = faiss.IndexFlatIP(dimension)
    ivf = faiss.IndexIVFFlat(quantizer, dimension, choice.nlist, faiss.METRIC_INNER_PRODUCT)
    reusable = reusable_centroids(trained, choice, dimension)
    if reusable is not None:
        quantizer.add(reusable)
        ivf.is_trained = True
    else:
        sample_size = min(len(vectors), TRAIN_PER_LIST * choice.nlist)
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
        ivf.train(np.ascontiguousarray(sample))
    ivf.add(vectors)
    ivf.nprobe = choice.nprobe
    return ivf  # (FAISS's Python wrapper keeps `quantizer` alive as long as `ivf`)


def reusable_centroids(
    index: faiss.Index | None, choice: IndexChoice, dimension: int
) -> np.ndarray | None:
    """The coarse centroids of `index` if it is a trained IVF index `choice` can reuse."""
    if index is None or choice.kind != "ivf":
        return None
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None or not ivf.is_trained or ivf.nlist != choice.nlist or ivf.d != dimension:
        return None
    return ivf.quantizer.reconstruct_n(0, ivf.nlist)


def index_choice(index: faiss.Index) -> IndexChoice:
    """What `index` is, as an IndexChoice."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return IndexChoice("flat", int(index.ntotal))
    return IndexChoice("ivf", int(index.ntotal), int(ivf.nlist), int(ivf.nprobe))


def save_index(index: faiss.Index, folder: Path, *, build_id: str) -> None:
    """Write `index` to `folder` for the passage store with `build_id` (atomic replaces: a
    reader finds the old pair, the new pair, or an index whose id does not match and is
    ignored)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix="passages.", suffix=".faiss.tmp")
    os.close(handle)
    try:
        faiss.write_index(index, tmp_name)
        os.replace(tmp_name, folder / INDEX_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    meta = {"build_id": build_id, **asdict(index_choice(index))}
    meta_tmp = folder / f"{INDEX_META_FILE}.tmp"
    meta_tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(meta_tmp, folder / INDEX_META_FILE)


def load_index(folder: Path, *, build_id: str, choice: IndexChoice) -> faiss.Index | None:
    """The index saved for the store with `build_id`, if it is the kind `choice` asks for
    (same size and list count); None when absent, stale or unreadable."""
    if not build_id:
        return None
    try:
        meta = json.loads((folder / INDEX_META_FILE).read_text(encoding="utf-8"))
        if meta.get("build_id") != build_id:
            return None
        index = faiss.read_index(str(folder / INDEX_FILE))
    except FileNotFoundError:
        return None
    except Exception as exc:  # damaged or foreign file: build again rather than fail
        log.warning("ignoring unreadable FAISS index in %s (%s); building it again", folder, exc)
        return None
    found = index_choice(index)
    if (found.kind, found.rows, found.nlist) != (choice.kind, choice.rows, choice.nlist):
        return None
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = choice.nprobe
    return index
