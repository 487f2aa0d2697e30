"""One text the encoder cannot take fails only itself: its batch is encoded again one text at a
time, the others get their vectors, and the failure is logged with its cause but not the text."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from app.nlp.batcher import MicroBatcher
from app.nlp.embedder import Embedder

BAD = "hi \ud800 x"  # a lone surrogate: the tokenizer cannot encode it


async def test_a_bad_text_fails_alone_and_its_batch_mates_get_their_vectors(
    embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    batcher = MicroBatcher(embedder.encode, max_batch=64, window_ms=0.0)
    batcher.start()
    good = [f"where is my parcel number {i}?" for i in range(8)]
    try:
        with caplog.at_level(logging.WARNING, logger="app.nlp.batcher"):
            # The first request keeps the encoder busy while the rest queue up: they are
            # then encoded as one batch, the bad text among them.
            first = asyncio.ensure_future(batcher.encode_and_read("warming up the encoder"))
            await asyncio.sleep(0)
            results = await asyncio.gather(
                *[batcher.encode_and_read(t) for t in [*good[:4], BAD, *good[4:]]],
                return_exceptions=True,
            )
            await first
    finally:
        await batcher.close()
    failed = results.pop(4)
    assert isinstance(failed, Exception)
    expected = embedder.encode(good)
    for got, want in zip(results, expected, strict=True):
        assert not isinstance(got, BaseException), got
        np.testing.assert_allclose(got[0], want, atol=1e-5)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "a batch of 9 messages failed" in logged  # the bad text did share a batch
    assert "each is encoded alone" in logged
    assert f"encoding a message failed ({len(BAD)} characters, sha256" in logged
    assert type(failed).__name__ in logged  # the cause
    assert BAD not in logged and "hi " not in logged
