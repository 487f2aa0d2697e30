"""The encoder: ONNX and torch agree; concurrent requests are batched and get their own vectors;
several workers encode batches at once; repeated customer texts are encoded once and served
from a bounded cache."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.config import bundled_model_path
from app.nlp.batcher import MicroBatcher
from app.nlp.embedder import DIRECT_SPEC, Embedder

TEXTS = [
    "Where is my order LS-104233?",
    "I want my money back for the broken kettle",
    "How do I reset my password?",
    "bonjour, livrez-vous au Canada ?",
    "",
]


def test_onnx_and_torch_give_the_same_vectors(embedder: Embedder, model_cache: Path) -> None:
    torch_embedder = Embedder(bundled_model_path(), backend="torch", cache_dir=model_cache)
    assert embedder.backend == "onnx"
    assert torch_embedder.backend == "torch"
    onnx_vectors = embedder.encode(TEXTS)
    torch_vectors = torch_embedder.encode(TEXTS)
    cosines = (onnx_vectors * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.9999
    assert onnx_vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-4)


def test_onnx_vectors_match_torch_in_order_over_several_batches(
    embedder: Embedder, model_cache: Path
) -> None:
    """The ONNX path pools in numpy itself; over more texts than one batch of 64, of very
    different lengths (one past the 256-token limit, one blank), each text keeps its own
    vector, the same as sentence-transformers on torch gives."""
    torch_embedder = Embedder(bundled_model_path(), backend="torch", cache_dir=model_cache)
    texts = [f"question {i}: " + "where is my parcel " * (i % 7) for i in range(70)]
    texts += ["refund " * 400, "   ", "Café ☕ naïve"]
    onnx_vectors = embedder.encode(texts)
    torch_vectors = torch_embedder.encode(texts)
    assert onnx_vectors.shape == (len(texts), embedder.dimension)
    assert float((onnx_vectors * torch_vectors).sum(axis=1).min()) > 0.9999


def test_onnx_export_is_reused(embedder: Embedder, model_cache: Path) -> None:
    exports = list(model_cache.glob("onnx-*/onnx/model.onnx"))
    assert len(exports) == 1
    stamp = exports[0].stat().st_mtime_ns
    again = Embedder(bundled_model_path(), backend="onnx", cache_dir=model_cache)
    assert again.backend == "onnx"
    assert exports[0].stat().st_mtime_ns == stamp


# Loads the encoder from the model cache in a new interpreter and prints what it imported and
# the vectors of TEXTS.
FRESH_LOAD = """
import json, sys
from pathlib import Path
from app.config import bundled_model_path
from app.nlp.embedder import Embedder
embedder = Embedder(bundled_model_path(), backend="onnx", cache_dir=Path(sys.argv[1]), workers=0)
print(json.dumps({
    "backend": embedder.backend,
    "workers": embedder.workers,
    "imported": sorted(m for m in ("sentence_transformers", "transformers", "torch")
                       if m in sys.modules),
    "vectors": embedder.encode(json.loads(sys.argv[2])).tolist(),
}))
"""


def _load_in_a_new_process(cache: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD, str(cache), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_checked_export_loads_later_without_torch(embedder: Embedder, model_cache: Path) -> None:
    """The first load of an export checks the direct path and saves its spec; a later start
    reads the export with ONNX Runtime and tokenizers alone, with the same vectors."""
    specs = list(model_cache.glob(f"onnx-*/{DIRECT_SPEC}"))
    assert len(specs) == 1
    spec = json.loads(specs[0].read_text(encoding="utf-8"))
    assert spec["max_length"] == 256 and spec["dimension"] == embedder.dimension
    later = _load_in_a_new_process(model_cache)
    assert later["backend"] == "onnx" and later["workers"] == len(os.sched_getaffinity(0))
    assert later["imported"] == []
    assert np.allclose(
        np.array(later["vectors"], dtype=np.float32), embedder.encode(TEXTS), atol=1e-6
    )


def test_a_damaged_spec_is_checked_again_and_rewritten(
    embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    export = next(model_cache.glob("onnx-*"))
    copy = tmp_path / export.name
    shutil.copytree(export, copy)
    good = (copy / DIRECT_SPEC).read_text(encoding="utf-8")
    for damage in ("{not json", good.replace('"onnx/model.onnx"', '"onnx/missing.onnx"')):
        (copy / DIRECT_SPEC).write_text(damage, encoding="utf-8")
        again = Embedder(bundled_model_path(), backend="onnx", cache_dir=tmp_path)
        assert again.backend == "onnx" and again.workers == 1
        assert np.allclose(again.encode(TEXTS), embedder.encode(TEXTS), atol=1e-6)
        assert json.loads((copy / DIRECT_SPEC).read_text(encoding="utf-8")) == json.loads(good)


def test_a_truncated_export_is_exported_again_not_left_to_torch(
    embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    export = next(model_cache.glob("onnx-*"))
    copy = tmp_path / export.name
    shutil.copytree(export, copy)
    model_file = copy / "onnx" / "model.onnx"
    model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 3])
    again = Embedder(bundled_model_path(), backend="onnx", cache_dir=tmp_path)
    assert again.backend == "onnx" and again.fallback_reason is None
    assert model_file.stat().st_size == (export / "onnx" / "model.onnx").stat().st_size
    assert np.allclose(again.encode(TEXTS), embedder.encode(TEXTS), atol=1e-6)
    later = _load_in_a_new_process(tmp_path)  # checked and saved: the next start is direct
    assert later["backend"] == "onnx" and later["imported"] == []


def test_a_spec_that_gives_other_vectors_is_checked_again(
    embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    export = next(model_cache.glob("onnx-*"))
    copy = tmp_path / export.name
    shutil.copytree(export, copy)
    good = (copy / DIRECT_SPEC).read_text(encoding="utf-8")
    spec = json.loads(good)
    (copy / DIRECT_SPEC).write_text(json.dumps({**spec, "max_length": 8}), encoding="utf-8")
    again = Embedder(bundled_model_path(), backend="onnx", cache_dir=tmp_path)
    assert again.backend == "onnx" and again.fallback_reason is None
    assert np.allclose(again.encode(TEXTS), embedder.encode(TEXTS), atol=1e-6)
    assert json.loads((copy / DIRECT_SPEC).read_text(encoding="utf-8")) == spec


def test_a_fallback_to_torch_says_why(embedder: Embedder, tmp_path: Path) -> None:
    cache = tmp_path / "not-a-folder"
    cache.write_text("a file where the model cache should be", encoding="utf-8")
    fallen = Embedder(bundled_model_path(), backend="onnx", cache_dir=cache)
    assert fallen.backend == "torch"
    assert fallen.fallback_reason is not None
    assert "ONNX backend unavailable" in fallen.fallback_reason
    assert np.allclose(fallen.encode(TEXTS), embedder.encode(TEXTS), atol=1e-5)


def test_unknown_model_path_fails_clearly(tmp_path: Path) -> None:
    import pytest

    from app.nlp.embedder import EmbedderError

    with pytest.raises(EmbedderError, match="cannot load embedding model"):
        Embedder(str(tmp_path / "no-model"), backend="torch", cache_dir=tmp_path)


async def vector_of(batcher: MicroBatcher, text: str) -> np.ndarray:
    """The vector of a customer text, asked for the way a turn asks (no reader is set here)."""
    vector, reading = await batcher.encode_and_read(text)
    assert reading is None
    return vector


async def test_concurrent_requests_share_batches_and_get_their_own_vectors(
    embedder: Embedder,
) -> None:
    batcher = MicroBatcher(embedder.encode, max_batch=64, window_ms=2.0)
    batcher.start()
    try:
        texts = [f"question {i}: where is my parcel number {i}?" for i in range(48)]
        vectors = await asyncio.gather(*[vector_of(batcher, t) for t in texts])
    finally:
        await batcher.close()
    expected = embedder.encode(texts)
    for got, want in zip(vectors, expected, strict=True):
        assert float(got @ want) > 0.9999
    assert batcher.stats.texts == 48
    assert batcher.stats.batches < 48, "concurrent requests were not batched"
    assert batcher.stats.largest_batch > 1


async def test_a_cancelled_request_does_not_break_the_batcher(embedder: Embedder) -> None:
    batcher = MicroBatcher(embedder.encode, max_batch=8, window_ms=0.0)
    batcher.start()
    try:
        doomed = asyncio.ensure_future(vector_of(batcher, "never mind"))
        doomed.cancel()
        vector = await vector_of(batcher, "still here")
    finally:
        await batcher.close()
    assert vector.shape == (embedder.dimension,)


async def test_a_failing_batch_fails_its_requests_and_the_next_one_works(
    embedder: Embedder,
) -> None:
    from app.nlp.embedder import EmbedderError

    def encode(texts: list[str]) -> np.ndarray:
        if any("boom" in t for t in texts):
            raise EmbedderError("encoding failed: boom")
        return embedder.encode(texts)

    batcher = MicroBatcher(encode, max_batch=8, window_ms=0.0)
    batcher.start()
    try:
        results = await asyncio.gather(
            vector_of(batcher, "boom"), vector_of(batcher, "fine"), return_exceptions=True
        )
        assert any(isinstance(r, EmbedderError) for r in results)
        vector = await vector_of(batcher, "after the failure")
        assert vector.shape == (embedder.dimension,)
    finally:
        await batcher.close()
    with pytest.raises(EmbedderError, match="not running"):
        await vector_of(batcher, "after close")


async def test_bulk_encoding_yields_to_customers_but_is_never_starved(embedder: Embedder) -> None:
    """A re-index shares the encoder with customers: their messages go first, yet steady
    customer traffic cannot stop the re-index (a bulk chunk runs at least every 250 ms)."""
    encoded_in_bulk: list[str] = []

    def encode(texts: list[str]) -> np.ndarray:
        encoded_in_bulk.extend(t for t in texts if t.startswith("passage number"))
        return embedder.encode(texts)

    batcher = MicroBatcher(encode, max_batch=8, window_ms=0.0)
    batcher.start()
    stop = asyncio.Event()

    async def customer() -> None:
        while not stop.is_set():
            await vector_of(batcher, "where is my order")

    customers = [asyncio.create_task(customer()) for _ in range(8)]
    try:
        texts = [f"passage number {i} about returns and refunds" for i in range(160)]
        started = asyncio.get_running_loop().time()
        vectors = await asyncio.wait_for(batcher.encode_many(texts), 60)
        assert vectors.shape == (160, embedder.dimension)
        assert np.allclose(vectors[7], embedder.encode([texts[7]])[0], atol=1e-5)
        assert asyncio.get_running_loop().time() - started < 60
        assert sorted(encoded_in_bulk) == sorted(texts)  # each passage encoded once
        assert batcher.stats.texts > 0  # customers were served meanwhile
    finally:
        stop.set()
        await asyncio.gather(*customers)
        await batcher.close()


def test_the_cache_key_only_merges_texts_the_model_encodes_alike(embedder: Embedder) -> None:
    """The bundled model lowercases (uncased BERT tokenizer), so case and spacing never change
    its vector; punctuation and words do, and keep their own keys."""
    assert embedder.ignores_case
    same = ["Where is my order?", "  where IS my\torder?  ", "WHERE   IS MY ORDER?"]
    assert {embedder.cache_key(t) for t in same} == {"where is my order?"}
    vectors = embedder.encode(same)
    assert float((vectors @ vectors.T).min()) > 0.9999
    different = ["Where is my order?", "Where is my order", "Where is my orders?"]
    assert len({embedder.cache_key(t) for t in different}) == 3


async def test_repeated_texts_are_encoded_once_then_served_from_the_cache(
    embedder: Embedder,
) -> None:
    batcher = MicroBatcher(
        embedder.encode, max_batch=8, window_ms=0.0, cache_size=8, cache_key=embedder.cache_key
    )
    batcher.start()
    try:
        first = await vector_of(batcher, "Where is my order?")
        again = await vector_of(batcher, "  where IS my   order? ")
        other = await vector_of(batcher, "can I pay with klarna")
    finally:
        await batcher.close()
    assert batcher.stats.texts == 2  # the repeat never reached the encoder
    assert (batcher.stats.cache_hits, batcher.stats.cache_misses) == (1, 2)
    assert np.array_equal(first, again)
    assert float(first @ embedder.encode(["Where is my order?"])[0]) > 0.9999
    assert float(first @ other) < 0.9
    assert not first.flags.writeable  # shared between callers: nobody may change it


async def test_concurrent_identical_texts_share_one_encode(embedder: Embedder) -> None:
    batcher = MicroBatcher(
        embedder.encode, max_batch=64, window_ms=2.0, cache_size=64, cache_key=embedder.cache_key
    )
    batcher.start()
    try:
        texts = ["do you ship to Canada?"] * 10 + [f"question {i} about refunds" for i in range(5)]
        vectors = await asyncio.gather(*[vector_of(batcher, t) for t in texts])
    finally:
        await batcher.close()
    assert batcher.stats.texts == 6
    assert (batcher.stats.cache_hits, batcher.stats.cache_misses) == (9, 6)
    assert all(np.array_equal(vectors[0], v) for v in vectors[1:10])
    expected = embedder.encode(texts[10:])
    for got, want in zip(vectors[10:], expected, strict=True):
        assert float(got @ want) > 0.9999


async def test_the_cache_is_bounded_and_forgets_the_least_recently_used(
    embedder: Embedder,
) -> None:
    batcher = MicroBatcher(
        embedder.encode, max_batch=8, window_ms=0.0, cache_size=2, cache_key=embedder.cache_key
    )
    batcher.start()
    try:
        for text in ["alpha question", "beta question", "alpha question", "gamma question"]:
            await vector_of(batcher, text)
        assert batcher.cache_entries == 2
        assert (batcher.stats.cache_hits, batcher.stats.cache_misses) == (1, 3)
        await vector_of(batcher, "alpha question")  # used recently: kept
        await vector_of(batcher, "beta question")  # the least recently used: forgotten
    finally:
        await batcher.close()
    assert (batcher.stats.cache_hits, batcher.stats.cache_misses) == (2, 4)
    assert batcher.cache_entries == 2


async def test_a_caller_giving_up_does_not_fail_others_waiting_for_the_same_text(
    embedder: Embedder,
) -> None:
    batcher = MicroBatcher(
        embedder.encode, max_batch=8, window_ms=0.0, cache_size=8, cache_key=embedder.cache_key
    )
    batcher.start()
    try:
        quitter = asyncio.ensure_future(vector_of(batcher, "is there a warranty"))
        stayer = asyncio.ensure_future(vector_of(batcher, "is there a warranty"))
        await asyncio.sleep(0)  # both are waiting for the same encode
        quitter.cancel()
        vector = await stayer
        assert vector.shape == (embedder.dimension,)
        assert quitter.cancelled()
        # Everyone giving up cancels the request; asking again later encodes it afresh.
        alone = asyncio.ensure_future(vector_of(batcher, "a question nobody waits for"))
        await asyncio.sleep(0)
        alone.cancel()
        again = await vector_of(batcher, "a question nobody waits for")
        assert again.shape == (embedder.dimension,)
    finally:
        await batcher.close()


async def test_a_failed_encode_is_not_cached(embedder: Embedder) -> None:
    from app.nlp.embedder import EmbedderError

    failures = ["boom"]

    def encode(texts: list[str]) -> np.ndarray:
        if failures and any("boom" in t for t in texts):
            failures.pop()
            raise EmbedderError("encoding failed: boom")
        return embedder.encode(texts)

    batcher = MicroBatcher(encode, max_batch=8, window_ms=0.0, cache_size=8)
    batcher.start()
    try:
        with pytest.raises(EmbedderError):
            await vector_of(batcher, "boom")
        vector = await vector_of(batcher, "boom")  # encoded again, this time it works
    finally:
        await batcher.close()
    assert vector.shape == (embedder.dimension,)
    assert (batcher.stats.cache_hits, batcher.stats.cache_misses) == (0, 2)


async def test_requests_that_arrived_during_an_encode_go_next_without_the_window(
    embedder: Embedder,
) -> None:
    """Under load, what queued up while the encoder was busy is encoded as soon as it is free:
    the straggler window (here a long 1.5 s) is only for an encoder that had gone idle."""
    starts: list[float] = []
    ends: list[float] = []
    encoding = threading.Event()

    def slow_encode(texts: list[str]) -> np.ndarray:
        starts.append(time.perf_counter())
        encoding.set()
        time.sleep(0.2)  # an encode long enough for the next requests to queue up
        vectors = embedder.encode(texts)
        ends.append(time.perf_counter())
        return vectors

    batcher = MicroBatcher(slow_encode, max_batch=64, window_ms=1500.0)
    batcher.start()
    try:
        first = [asyncio.ensure_future(vector_of(batcher, f"first {i}")) for i in range(2)]
        while not encoding.is_set():  # the first batch (of 2: under load from now) is encoding
            await asyncio.sleep(0.005)
        second = [asyncio.ensure_future(vector_of(batcher, f"second {i}")) for i in range(3)]
        await asyncio.gather(*first, *second)
    finally:
        await batcher.close()
    assert batcher.stats.batches == 2
    assert batcher.stats.largest_batch == 3
    assert starts[1] - ends[0] < 0.75, "the waiting requests sat out the straggler window"


async def test_several_workers_encode_batches_at_once_with_the_same_vectors(
    model_cache: Path,
) -> None:
    """With two workers (the service's layout on a 2-core machine: one ONNX call per core,
    one thread each), two batches are encoded at the same time, from one shared session,
    and every caller still gets its own text's vector."""
    parallel = Embedder(bundled_model_path(), backend="onnx", cache_dir=model_cache, workers=2)
    assert parallel.workers == 2
    assert parallel.threads == max(1, len(os.sched_getaffinity(0)) // 2)
    inside = 0
    overlap = 0
    encoded: list[str] = []
    lock = threading.Lock()

    def encode(texts: list[str]) -> np.ndarray:
        nonlocal inside, overlap
        with lock:
            inside += 1
            overlap = max(overlap, inside)
            encoded.extend(texts)
        try:
            time.sleep(0.05)  # long enough for the other worker to start its batch
            return parallel.encode(texts)
        finally:
            with lock:
                inside -= 1

    batcher = MicroBatcher(encode, max_batch=4, window_ms=0.0, workers=2)
    batcher.start()
    try:
        texts = [f"where is parcel {i}, it was due on day {i % 7}?" for i in range(40)]
        vectors = await asyncio.gather(*[vector_of(batcher, t) for t in texts])
        bulk = await batcher.encode_many(texts, chunk=5)
    finally:
        await batcher.close()
    assert overlap == 2, "the two workers never encoded at the same time"
    expected = Embedder(bundled_model_path(), backend="onnx", cache_dir=model_cache).encode(texts)
    for got, want in zip([*vectors, *bulk], [*expected, *expected], strict=True):
        assert float(got @ want) > 0.9999
    assert batcher.stats.workers == 2
    assert batcher.stats.texts == 40  # the customer requests; the bulk texts are not counted
    assert sorted(encoded) == sorted(texts * 2)  # each text once for its caller, once in bulk


def test_one_embedder_encodes_from_two_threads_at_once(model_cache: Path) -> None:
    parallel = Embedder(bundled_model_path(), backend="onnx", cache_dir=model_cache, workers=2)
    texts = [f"how do I return item {i} bought {i} days ago?" for i in range(64)]
    alone = parallel.encode(texts)
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(parallel.encode, [texts[:32], texts[32:]] * 4))
    for number, half in enumerate(halves):
        want = alone[:32] if number % 2 == 0 else alone[32:]
        assert np.allclose(half, want, atol=1e-5)


async def test_readers_run_over_the_batch_on_the_worker_and_only_for_encoded_texts(
    embedder: Embedder,
) -> None:
    """`encode_and_read` callers get the reader's reading of their text, computed with the
    rest of the batch on the worker thread; a vector from the cache comes without one, and a
    reader that fails costs the readings, never the vectors."""
    calls: list[tuple[list[str], str]] = []

    def reader(texts: list[str], vectors: np.ndarray) -> list[str]:
        calls.append((list(texts), threading.current_thread().name))
        if "explode" in texts:
            raise RuntimeError("reader failed")
        return [f"{t}:{float(v @ v):.3f}" for t, v in zip(texts, vectors, strict=True)]

    batcher = MicroBatcher(embedder.encode, max_batch=64, window_ms=5.0, cache_size=16)
    batcher.set_reader(reader)
    batcher.start()
    try:
        texts = [f"is parcel {i} on its way?" for i in range(12)]
        first = await asyncio.gather(*[batcher.encode_and_read(t) for t in texts])
        again, fresh = await asyncio.gather(
            batcher.encode_and_read(texts[0]), batcher.encode_and_read("a question not seen yet")
        )
        failed = await asyncio.gather(
            batcher.encode_and_read("explode"), batcher.encode_and_read("still a vector")
        )
    finally:
        await batcher.close()
    assert [reading for _, reading in first] == [f"{t}:1.000" for t in texts]
    assert all(name.startswith("encoder") for _, name in calls)
    assert max(len(batch) for batch, _ in calls) > 1, "the reader never saw a whole batch"
    assert again[1] is None and np.array_equal(again[0], first[0][0])  # from the cache
    assert fresh[1] == "a question not seen yet:1.000"
    assert [reading for _, reading in failed] == [None, None]
    assert all(vector.shape == (embedder.dimension,) for vector, _ in failed)
