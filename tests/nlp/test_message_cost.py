"""What one message costs the encoder: at most `max_tokens` tokens of it are read, and a batch
holds texts of one length class, shortest first."""

from __future__ import annotations

import asyncio

import numpy as np

from app.nlp.batcher import LENGTH_CLASSES, MicroBatcher, length_class
from app.nlp.embedder import Embedder

OPENING = "I ordered a blue kettle last week and it arrived with a cracked lid, " * 4


def test_a_long_message_is_read_up_to_its_token_limit(embedder: Embedder) -> None:
    one, other = OPENING + "refund " * 600, OPENING + "shipping options " * 300
    capped = embedder.encode_messages([one, other], max_tokens=32)
    np.testing.assert_allclose(capped[0], capped[1], atol=1e-6)  # only the opening was read
    whole = embedder.encode_messages([one, other], max_tokens=0)
    assert float(whole[0] @ whole[1]) < 0.99  # the model's own limit reads further
    short = "where is my order?"
    np.testing.assert_allclose(
        embedder.encode_messages([short], max_tokens=32), embedder.encode([short]), atol=1e-6
    )


async def test_short_and_long_texts_are_not_batched_together_and_short_go_first(
    embedder: Embedder,
) -> None:
    batches: list[list[int]] = []

    def encode(texts: list[str]) -> np.ndarray:
        batches.append([len(t) for t in texts])
        return embedder.encode(texts)

    batcher = MicroBatcher(encode, max_batch=64, window_ms=0.0)
    batcher.start()
    long_text = "my parcel never came and " * 40
    try:
        busy = asyncio.ensure_future(batcher.encode_and_read("keeping the encoder busy"))
        await asyncio.sleep(0)
        texts = [long_text + str(i) for i in range(4)] + [f"where is order {i}?" for i in range(4)]
        await asyncio.gather(*[batcher.encode_and_read(t) for t in texts])
        await busy
    finally:
        await batcher.close()
    queued = batches[1:]  # after the first, which ran alone
    for batch in queued:
        assert len({length_class("x" * n) for n in batch}) == 1, batches
    assert max(queued[0]) <= LENGTH_CLASSES[0]  # the short ones went first
    assert sum(len(b) for b in queued) == 8
