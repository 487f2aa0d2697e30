"""The encoder: ONNX and torch agree; concurrent requests are batched and get their own vectors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from app.config import bundled_model_path
from app.nlp.batcher import MicroBatcher
from app.nlp.embedder import Embedder

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


def test_onnx_export_is_reused(embedder: Embedder, model_cache: Path) -> None:
    exports = list(model_cache.glob("onnx-*/onnx/model.onnx"))
    assert len(exports) == 1
    stamp = exports[0].stat().st_mtime_ns
    again = Embedder(bundled_model_path(), backend="onnx", cache_dir=model_cache)
    assert again.backend == "onnx"
    assert exports[0].stat().st_mtime_ns == stamp


def test_unknown_model_path_fails_clearly(tmp_path: Path) -> None:
    import pytest

    from app.nlp.embedder import EmbedderError

    with pytest.raises(EmbedderError, match="cannot load embedding model"):
        Embedder(str(tmp_path / "no-model"), backend="torch", cache_dir=tmp_path)


async def test_concurrent_requests_share_batches_and_get_their_own_vectors(
    embedder: Embedder,
) -> None:
    batcher = MicroBatcher(embedder.encode, max_batch=64, window_ms=2.0)
    batcher.start()
    try:
        texts = [f"question {i}: where is my parcel number {i}?" for i in range(48)]
        vectors = await asyncio.gather(*[batcher.encode_one(t) for t in texts])
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
        doomed = asyncio.ensure_future(batcher.encode_one("never mind"))
        doomed.cancel()
        vector = await batcher.encode_one("still here")
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
            batcher.encode_one("boom"), batcher.encode_one("fine"), return_exceptions=True
        )
        assert any(isinstance(r, EmbedderError) for r in results)
        vector = await batcher.encode_one("after the failure")
        assert vector.shape == (embedder.dimension,)
    finally:
        await batcher.close()
    with pytest.raises(EmbedderError, match="not running"):
        await batcher.encode_one("after close")


async def test_bulk_encoding_yields_to_customers_but_is_never_starved(embedder: Embedder) -> None:
    """A re-index shares the encoder with customers: their messages go first, yet steady
    customer traffic cannot stop the re-index (a bulk chunk runs at least every 250 ms)."""
    batcher = MicroBatcher(embedder.encode, max_batch=8, window_ms=0.0)
    batcher.start()
    stop = asyncio.Event()

    async def customer() -> None:
        while not stop.is_set():
            await batcher.encode_one("where is my order")

    customers = [asyncio.create_task(customer()) for _ in range(8)]
    try:
        texts = [f"passage number {i} about returns and refunds" for i in range(160)]
        started = asyncio.get_running_loop().time()
        vectors = await asyncio.wait_for(batcher.encode_many(texts), 60)
        assert vectors.shape == (160, embedder.dimension)
        assert np.allclose(vectors[7], embedder.encode([texts[7]])[0], atol=1e-5)
        assert asyncio.get_running_loop().time() - started < 60
        assert batcher.stats.bulk_texts == 160
        assert batcher.stats.texts > 0  # customers were served meanwhile
    finally:
        stop.set()
        await asyncio.gather(*customers)
        await batcher.close()
