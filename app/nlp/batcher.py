"""Micro-batching: concurrent encode requests share encoder calls, off the event loop.

Requests queue up while the encoders are busy; when one is free, its worker takes everything
waiting (up to `max_batch`) as one batch, at once: under steady load the batch is what arrived
during the previous encode. `workers` encoder calls run at once, each on its own thread (with
ONNX, one per core, each call on one core: small batches of short messages cost about a
quarter less CPU per sentence that way than one call spread over every core, whose threads
wait for each other at every layer). When the encoder had gone idle under load (the previous
batch held more than one request), the first request to arrive waits a short window for
stragglers, so throughput grows with load while an idle service adds no latency. Bulk work
(indexing) goes through the same workers in small chunks, each run only when no customer
request is waiting.

Customers ask the same things over and over, so single texts go through a bounded LRU cache of
vectors keyed by `cache_key` (the embedder's: whitespace collapsed, and lowercased when the
model's tokenizer lowercases anyway, so the key never merges texts the model tells apart). A
repeat is answered at once without queueing; a text already waiting for the encoder is
encoded once for every caller asking for it meanwhile. The model never changes while the
service runs, so entries never go stale. Bulk work bypasses the cache.

A single text (a customer turn's) goes through `encode_and_read`, which also returns what the
turn reads from the vector (knowledge hits, intent, sentiment): the `reader` set with
`set_reader` runs on the worker thread right after the encode, over the whole batch at once (one
index search and one matrix product per model instead of one per message), and off the event
loop. A text answered from the cache, or shared with another caller, comes back without a
reading: the caller reads it itself.

A batch holds texts of one length class (`length_class`), shortest first, so short messages
are not padded to long ones nor wait behind them; single texts are encoded with
`encode_single` (customer messages: a bounded number of tokens each), bulk work with `encode`.

One bad text fails only itself: when a batch's encode fails, each of its texts is encoded
alone, and only those that fail again get the error. Every such failure is logged with its
cause; a text appears in the log only as its length and a digest.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.nlp.embedder import EmbedderError

EncodeFn = Callable[[list[str]], np.ndarray]
# What a caller of `encode_and_read` gets besides the vector, for a batch of texts and vectors.
ReadFn = Callable[[list[str], np.ndarray], list[Any]]
# Bulk encoding (indexing) runs in chunks of this many texts (tens of ms each on 2 cores), each
# only when no customer request is waiting.
BULK_CHUNK = 16
# ...but never waits longer than this for its turn, however busy customers keep the encoder.
BULK_MAX_WAIT = 0.25

log = logging.getLogger(__name__)


# Vectors of this many recent distinct customer texts are kept (384 floats each: 1.5 kB).
DEFAULT_CACHE_SIZE = 4096
# Longer texts are not cached: long messages rarely repeat, and the key would hold them.
MAX_CACHED_CHARS = 500
# Texts up to these many characters batch together (chat lines, a paragraph, longer).
LENGTH_CLASSES = (120, 480)
# Shorter texts go first, but a longer one waits at most this long for its turn (seconds).
MAX_SKIPPED_WAIT = 0.1
# A failure's cause is logged up to this many characters (it never quotes a whole message).
MAX_LOGGED_CAUSE = 160


def _cause(exc: BaseException, texts: list[str]) -> str:
    """An exception as a log line: its type and message, short, with `texts` blanked out."""
    message = str(exc)
    for text in texts:
        if text:
            message = message.replace(text, "<text>")
    return f"{type(exc).__name__}: {message[:MAX_LOGGED_CAUSE]}"


def collapse_whitespace(text: str) -> str:
    """`text` with runs of whitespace as one space and none at the ends."""
    return " ".join(text.split())


def length_class(text: str) -> int:
    """Which batches a text may join: texts of one class have similar lengths, so a short
    message is never padded to a long one (a batch costs as much as its longest text, times
    its size)."""
    return bisect.bisect_left(LENGTH_CLASSES, len(text))


@dataclass
class _Request:
    text: str
    future: asyncio.Future[tuple[np.ndarray, Any]]  # the vector and the reading (or None)
    key: str | None = None  # cache key; None when the text is not cached
    waiters: int = 1  # callers awaiting `future`; when all give up, it is cancelled
    queued_at: float = 0.0  # loop time
    size: int = field(init=False)  # its length class

    def __post_init__(self) -> None:
        self.size = length_class(self.text)


@dataclass
class _BulkJob:
    texts: list[str]
    future: asyncio.Future[np.ndarray]


@dataclass
class BatchStats:
    """Counters for observing the batcher (exposed on /readyz)."""

    batches: int = 0
    texts: int = 0
    largest_batch: int = 0
    busy_seconds: float = field(default=0.0)
    cache_hits: int = 0  # single texts answered from the cache or by an encode in flight
    cache_misses: int = 0  # single texts that had to be encoded
    workers: int = 1  # encoder calls that may run at once (busy_seconds sums over them)


class MicroBatcher:
    """Collects single-text encode requests into batched calls to `encode`, on `workers`
    threads (`encode` must then be safe to call from several threads at once)."""

    def __init__(
        self,
        encode: EncodeFn,
        *,
        encode_single: EncodeFn | None = None,
        max_batch: int,
        window_ms: float,
        cache_size: int = 0,
        cache_key: Callable[[str], str] = collapse_whitespace,
        workers: int = 1,
        thread_setup: Callable[[], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._encode = encode
        self._encode_single = encode_single or encode
        self._reader: ReadFn | None = None
        self._max_batch = max_batch
        self._window = window_ms / 1000.0
        self._cache_size = cache_size
        self._cache_key = cache_key
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._pending: dict[str, _Request] = {}  # cached texts queued or being encoded
        self._waiting: collections.deque[_Request] = collections.deque()
        self._bulk: collections.deque[_BulkJob] = collections.deque()
        self._wake = asyncio.Event()  # set when a request or bulk work arrives
        self._bulk_since: float | None = None  # when bulk work started waiting for its turn
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="encoder", initializer=thread_setup
        )
        self._workers: list[asyncio.Task[None]] = []
        self.stats = BatchStats(workers=workers)

    def start(self) -> None:
        """Start the worker tasks on the running loop."""
        if not self._workers:
            loop = asyncio.get_running_loop()
            for number in range(self.stats.workers):
                worker = loop.create_task(self._run(), name=f"encoder-{number}")
                worker.add_done_callback(self._worker_ended)
                self._workers.append(worker)

    @property
    def _running(self) -> bool:
        return bool(self._workers) and all(not w.done() for w in self._workers)

    def _worker_ended(self, worker: asyncio.Task[None]) -> None:
        """If the worker ever dies, nobody may wait forever: fail what is queued, loudly."""
        if worker.cancelled():
            return
        exc = worker.exception()
        if exc is not None:
            log.error("encoder worker stopped: %r", exc)
            self._fail_queued(EmbedderError("the encoder stopped; restart the service"))

    async def close(self) -> None:
        """Stop the workers; requests still waiting (or in a batch being encoded) are
        cancelled, never left hanging."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        self._fail_queued(None)
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    def _fail_queued(self, exc: BaseException | None) -> None:
        """Fail (or, with None, cancel) every request still in the queue."""
        while self._bulk:
            future: asyncio.Future[Any] = self._bulk.popleft().future
            if not future.done():
                if exc is None:
                    future.cancel()
                else:
                    future.set_exception(exc)
        self._pending.clear()
        while self._waiting:
            future = self._waiting.popleft().future
            if not future.done():
                if exc is None:
                    future.cancel()
                else:
                    future.set_exception(exc)

    @property
    def cache_entries(self) -> int:
        """How many vectors the cache holds."""
        return len(self._cache)

    def set_reader(self, reader: ReadFn | None) -> None:
        """What `encode_and_read` callers get besides the vector: `reader(texts, vectors)`,
        one reading per text, run on the worker thread after each encode (so it must be safe
        to run there, and on several workers at once). If it raises, the batch's callers get
        no reading (and read their texts themselves); their vectors are unaffected."""
        self._reader = reader

    async def encode_and_read(self, text: str) -> tuple[np.ndarray, Any | None]:
        """The vector of one text (read-only: from the cache, or encoded together with whatever
        else is waiting) and, when it was encoded for this caller, the reader's reading of it
        (None from the cache, for a text another caller had queued, or with no reader set)."""
        if not self._running:
            raise EmbedderError("the encoder is not running")
        key = None
        if self._cache_size > 0 and len(text) <= MAX_CACHED_CHARS:
            key = self._cache_key(text)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.stats.cache_hits += 1
                return cached, None
            pending = self._pending.get(key)
            if pending is not None and not pending.future.done():
                self.stats.cache_hits += 1
                pending.waiters += 1
                vector, _ = await self._wait(pending)
                return vector, None  # the reading, if any, is its first caller's
            self.stats.cache_misses += 1
        loop = asyncio.get_running_loop()
        request = _Request(text, loop.create_future(), key, queued_at=loop.time())
        if key is not None:
            self._pending[key] = request
        self._waiting.append(request)
        self._wake.set()
        return await self._wait(request)

    async def _wait(self, request: _Request) -> tuple[np.ndarray, Any | None]:
        """Await a request's vector; the last caller to give up cancels the request (so the
        worker skips it), the others leave it running for those still waiting."""
        try:
            return await asyncio.shield(request.future)
        finally:
            request.waiters -= 1
            if request.waiters == 0 and not request.future.done():
                request.future.cancel()
                self._forget(request)

    def _forget(self, request: _Request) -> None:
        """Stop offering a request to later callers of the same text."""
        if request.key is not None and self._pending.get(request.key) is request:
            del self._pending[request.key]

    def _remember(self, request: _Request, vector: np.ndarray) -> np.ndarray:
        """Keep a request's vector in the cache (a read-only copy, not a view that would hold
        its whole batch in memory); returns what its callers get."""
        if request.key is None:
            return vector
        self._forget(request)
        kept = np.array(vector, dtype=np.float32)
        kept.flags.writeable = False
        self._cache[request.key] = kept
        self._cache.move_to_end(request.key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return kept

    async def encode_many(self, texts: list[str], *, chunk: int = BULK_CHUNK) -> np.ndarray:
        """Vectors of many texts (bulk work such as indexing), encoded `chunk` at a time by the
        same workers, which run a bulk chunk only when no customer request is waiting: a large
        re-index delays a customer's message by at most the one chunk being encoded."""
        if not self._running:
            raise EmbedderError("the encoder is not running")
        loop = asyncio.get_running_loop()
        if not texts:
            return await loop.run_in_executor(self._executor, self._encode, texts)
        jobs = [
            _BulkJob(texts[start : start + chunk], loop.create_future())
            for start in range(0, len(texts), chunk)
        ]
        self._bulk.extend(jobs)
        self._wake.set()
        try:
            parts = [await job.future for job in jobs]
        except BaseException:
            for job in jobs:
                job.future.cancel()
            raise
        return np.vstack(parts)

    async def _next_work(self) -> _Request | _BulkJob:
        """The next customer request, or a bulk chunk when no customer request is waiting or
        bulk work has waited BULK_MAX_WAIT (so steady traffic cannot starve indexing: at worst
        one chunk runs every BULK_MAX_WAIT)."""
        loop = asyncio.get_running_loop()
        while True:
            if self._bulk and self._bulk_since is None:
                self._bulk_since = loop.time()
            if self._bulk and (
                not self._waiting or loop.time() - self._bulk_since >= BULK_MAX_WAIT  # type: ignore[operator]
            ):
                self._bulk_since = None
                return self._bulk.popleft()
            if self._waiting:
                return self._next_request(loop.time())
            self._wake.clear()  # nothing waits: sleep until something arrives
            await self._wake.wait()

    def _next_request(self, now: float) -> _Request:
        """The oldest waiting request of the shortest length class, unless the oldest of all
        has waited MAX_SKIPPED_WAIT (long messages go later, never last forever)."""
        oldest = self._waiting[0]
        if now - oldest.queued_at >= MAX_SKIPPED_WAIT:
            return self._waiting.popleft()
        shortest = min(self._waiting, key=lambda r: r.size)
        self._waiting.remove(shortest)
        return shortest

    def _take(self, size: int, room: int) -> list[_Request]:
        """Up to `room` waiting requests of length class `size`, oldest first."""
        taken = [r for r in self._waiting if r.size == size][:room]
        for r in taken:
            self._waiting.remove(r)
        return taken

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        under_load = False
        while True:
            # Requests already waiting arrived while the encoder was busy: they go at once, with
            # whatever else is waiting. Waiting for stragglers then would only idle the encoder
            # while the loop runs the previous batch's turns, whose customers are not back yet.
            idle = not self._waiting
            first = await self._next_work()
            if isinstance(first, _BulkJob):
                await self._encode_bulk(loop, first)
                continue
            batch = [first]
            if under_load and idle and self._window > 0:
                deadline = loop.time() + self._window
                while len(batch) < self._max_batch:
                    taken = self._take(first.size, self._max_batch - len(batch))
                    if taken:
                        batch.extend(taken)
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), remaining)
                    except TimeoutError:
                        break
            batch.extend(self._take(first.size, self._max_batch - len(batch)))
            live = [r for r in batch if not r.future.done()]
            under_load = len(batch) > 1
            if live:
                await self._encode_batch(loop, live)

    async def _encode_bulk(self, loop: asyncio.AbstractEventLoop, job: _BulkJob) -> None:
        """Encode one bulk chunk (skipped if its caller gave up)."""
        if job.future.done():
            return
        started = time.perf_counter()
        try:
            vectors = await loop.run_in_executor(self._executor, self._encode, job.texts)
        except asyncio.CancelledError:
            job.future.cancel()
            raise
        except Exception as exc:
            if not job.future.done():
                job.future.set_exception(exc)
            return
        self.stats.busy_seconds += time.perf_counter() - started
        if not job.future.done():
            job.future.set_result(vectors)

    async def _encode_batch(self, loop: asyncio.AbstractEventLoop, live: list[_Request]) -> None:
        """Encode one batch and settle every request in it, whatever happens."""
        started = time.perf_counter()
        try:
            vectors, readings = await loop.run_in_executor(
                self._executor, self._encode_and_read, [r.text for r in live]
            )
        except asyncio.CancelledError:
            for r in live:
                self._forget(r)
                r.future.cancel()
            raise
        except Exception as exc:
            if len(live) == 1:
                self._fail(live[0], exc)
            else:
                log.warning(
                    "encoding a batch of %d messages failed (%s); each is encoded alone",
                    len(live),
                    _cause(exc, []),
                )
                await self._encode_alone(loop, live)
            return
        self._record(len(live), time.perf_counter() - started)
        for r, vector, reading in zip(live, vectors, readings, strict=True):
            self._settle(r, vector, reading)

    def _settle(self, request: _Request, vector: np.ndarray, reading: Any | None) -> None:
        kept = self._remember(request, vector)
        if not request.future.done():
            request.future.set_result((kept, reading))

    def _fail(self, request: _Request, exc: Exception) -> None:
        """Fail one request, logging why (its text only as a length and a digest)."""
        self._forget(request)
        digest = hashlib.sha256(request.text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        log.error(
            "encoding a message failed (%d characters, sha256 %s): %s",
            len(request.text),
            digest,
            _cause(exc, [request.text]),
        )
        if not request.future.done():
            request.future.set_exception(exc)

    async def _encode_alone(self, loop: asyncio.AbstractEventLoop, live: list[_Request]) -> None:
        """After a failed batch: each request encoded by itself, so that only the one(s) that
        cannot be encoded fail."""
        for r in live:
            if r.future.done():
                continue
            started = time.perf_counter()
            try:
                vectors, readings = await loop.run_in_executor(
                    self._executor, self._encode_and_read, [r.text]
                )
            except asyncio.CancelledError:
                for other in live:
                    self._forget(other)
                    other.future.cancel()
                raise
            except Exception as exc:
                self._fail(r, exc)
                continue
            self._record(1, time.perf_counter() - started)
            self._settle(r, vectors[0], readings[0])

    def _encode_and_read(self, texts: list[str]) -> tuple[np.ndarray, list[Any | None]]:
        """On the worker thread: the batch's vectors, then the reader's readings of them."""
        vectors = self._encode_single(texts)
        if len(vectors) != len(texts):
            raise RuntimeError(f"encoder returned {len(vectors)} vectors for {len(texts)}")
        readings: list[Any | None] = [None] * len(texts)
        reader = self._reader
        if reader is None:
            return vectors, readings
        try:
            found = reader(texts, vectors)
            if len(found) != len(texts):
                raise RuntimeError(f"reader returned {len(found)} readings for {len(texts)}")
        except Exception:
            log.exception("reading a batch of %d messages failed; each is read alone", len(texts))
            return vectors, readings
        return vectors, list(found)

    def _record(self, size: int, seconds: float) -> None:
        self.stats.batches += 1
        self.stats.texts += size
        self.stats.largest_batch = max(self.stats.largest_batch, size)
        self.stats.busy_seconds += seconds
