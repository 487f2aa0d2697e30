"""The service's long-lived parts, created and wired once at start: database, encoder,
knowledge index, intents (with their classifier and HTTP client), the sentiment model, the
broker of live events and the bot. The top of the house: only the app factory, the CLI and
the health routes use it; routes get the parts they need through `app/deps.py`."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import text

from app.auth.service import ensure_admin
from app.bot.budget import TextBudget
from app.bot.pipeline import Bot
from app.bot.understanding import MessageReader
from app.config import Settings
from app.conversations.access import CustomerAccess
from app.conversations.retention import EmptyConversationSweeper
from app.db import Database, DataUnusable
from app.intents.engine import IntentEngine
from app.kb import service as kb_service
from app.kb.knowledge import BuildReport, KnowledgeIndex
from app.kb.loader import load_folder
from app.kb.refresher import IndexRefresher
from app.kb.vector_index import search_on_one_thread
from app.nlp.batcher import DEFAULT_CACHE_SIZE, MicroBatcher
from app.nlp.embedder import Embedder
from app.nlp.sentiment import SentimentModel
from app.nlp.spelling import Speller
from app.ratelimit.addresses import ClientAddresses
from app.ratelimit.limiter import RateLimits
from app.realtime.broker import Broker
from app.realtime.factory import create_broker
from app.storage import probe_folder
from app.suites.runner import SuiteRunner
from app.suites.runs import RUNS_FOLDER, RunStore

log = logging.getLogger(__name__)


def _small_products_on_one_thread() -> None:
    """Serving multiplies small matrices (a batch of messages against a few hundred rows):
    OpenBLAS's extra threads only wake up, spin and steal a core from the encoder and the
    loop. One thread each from here on (start-up's large products ran before)."""
    from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

    ThreadpoolController().select(user_api="blas").limit(limits=1)


def check_data_folders(settings: Settings) -> None:
    """`DataUnusable` naming the folder and what to do unless data can be written in the data
    folder and, on SQLite, the database file's folder."""
    folders = [settings.data_dir]
    if settings.sqlalchemy_url.startswith("sqlite"):
        db_path = settings.sqlalchemy_url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            folders.append(Path(db_path).parent)
    for folder in folders:
        problem = probe_folder(folder)
        if problem is not None:
            raise DataUnusable(problem)


@dataclass
class Runtime:
    """Everything a request needs: settings, database, encoder, index, intents, sentiment,
    customer access, the broker of live events, the limits on abuse and the client address
    reader; and the background work (index refresher, sweep of empty conversations)."""

    settings: Settings
    db: Database
    embedder: Embedder
    batcher: MicroBatcher
    knowledge: KnowledgeIndex
    intents: IntentEngine
    sentiment: SentimentModel
    customer_access: CustomerAccess
    broker: Broker
    bot: Bot
    rate_limits: RateLimits
    addresses: ClientAddresses
    refresher: IndexRefresher | None = None
    sweeper: EmptyConversationSweeper | None = None
    budget: TextBudget | None = None  # characters of customer messages per client
    suites: SuiteRunner | None = None  # conversation suites (the bot's turn on a scratch DB)
    suite_runs: RunStore | None = None
    startup_seconds: float = 0.0

    @classmethod
    async def start(cls, settings: Settings, *, embedder: Embedder | None = None) -> Runtime:
        """Migrate the database, load the encoder, load the KB folder and build the index."""
        began = time.perf_counter()
        check_data_folders(settings)
        db = Database(settings.sqlalchemy_url)
        await db.migrate()
        if settings.admin_email and settings.admin_password:
            password = settings.admin_password.get_secret_value()
            await db.run(ensure_admin, email=settings.admin_email, password=password)
        if embedder is None:
            embedder = await asyncio.to_thread(Embedder.from_settings, settings)
        batcher = MicroBatcher(
            embedder.encode,
            encode_single=partial(
                embedder.encode_messages, max_tokens=settings.budgets.message_tokens
            ),
            max_batch=settings.embedding.max_batch,
            window_ms=settings.embedding.batch_window_ms,
            cache_size=DEFAULT_CACHE_SIZE,
            cache_key=embedder.cache_key,
            workers=embedder.workers,
            thread_setup=search_on_one_thread,  # the workers also search (see set_reader)
        )
        batcher.start()
        knowledge = KnowledgeIndex(
            folder=settings.index_dir,
            model_key=embedder.key,
            dimension=embedder.dimension,
            chunk_words=settings.retrieval.chunk_words,
            exact_max=settings.retrieval.exact_max_passages,
            nprobe=settings.retrieval.ivf_nprobe,
        )
        # The speller's English dictionary builds in a thread while the intents are fitted.
        speller = (
            asyncio.create_task(asyncio.to_thread(Speller))
            if settings.retrieval.mend_spelling
            else None
        )
        try:
            rate_limits = RateLimits.from_settings(settings)
            intents = await IntentEngine.start(
                settings, batcher.encode_many, model_key=embedder.key, limits=rate_limits
            )
        except BaseException:
            if speller is not None:
                speller.cancel()
            await batcher.close()
            await db.dispose()
            raise
        sentiment = await asyncio.to_thread(
            SentimentModel.train, embedder.encode, cache_dir=settings.model_cache_dir
        )
        access = CustomerAccess(db, token_days=settings.retention.customer_token_days)
        broker = create_broker(settings)
        reader = MessageReader(
            batcher=batcher,
            knowledge=knowledge,
            intents=intents,
            sentiment=sentiment,
            settings=settings,
            speller=await speller if speller is not None else None,
        )
        bot = Bot(
            db=db,
            reader=reader,
            intents=intents,
            access=access,
            broker=broker,
            settings=settings,
        )
        runtime = cls(
            settings,
            db,
            embedder,
            batcher,
            knowledge,
            intents,
            sentiment,
            access,
            broker,
            bot,
            rate_limits,
            ClientAddresses(settings.trusted_proxies),
        )
        runtime.budget = TextBudget.from_settings(settings)
        runtime.suites = SuiteRunner(
            db=db,
            batcher=batcher,
            knowledge=knowledge,
            intents=intents,
            reader=reader,
            settings=settings,
        )
        runtime.suite_runs = RunStore(settings.data_dir / RUNS_FOLDER, keep=settings.test_runs_kept)
        try:
            await runtime.load_knowledge_folder()
        except BaseException:
            await runtime.stop()
            raise
        runtime.refresher = IndexRefresher(
            db=db,
            knowledge=knowledge,
            encode=batcher.encode_many,
            broker=runtime.broker,
            poll_seconds=settings.kb_poll_seconds,
        )
        runtime.refresher.start()
        runtime.sweeper = EmptyConversationSweeper(db, settings.retention)
        runtime.sweeper.start()
        _small_products_on_one_thread()
        # Customer turns get their messages read with the rest of their encoder batch.
        batcher.set_reader(reader.read_batch)
        # What start-up loaded (model, tokenizer, classifiers, index: half a million objects)
        # lives as long as the service: keep it out of the collector's full passes, each of
        # which would take 240 ms here, a pause every customer of the moment waits through. Only the
        # young generations are collected first: a full pass would itself cost that much, on
        # every start of a process that starts many services (the test suite).
        gc.collect(1)
        gc.freeze()
        runtime.startup_seconds = time.perf_counter() - began
        log.info("ready in %.1fs (encoder: %s)", runtime.startup_seconds, embedder.backend)
        return runtime

    async def load_knowledge_folder(self) -> BuildReport:
        """Sync the KB folder into the database and rebuild the index from what is published."""
        articles_in = await asyncio.to_thread(load_folder, self.settings.kb_dir)
        async with self.db.sessions() as session, session.begin():
            if not self.db.is_sqlite:  # processes starting together sync one at a time
                await session.execute(text("SELECT pg_advisory_xact_lock(7312)"))
            report = await kb_service.sync_folder(session, articles_in=articles_in)
            published = await kb_service.list_published(session)
            revision = await kb_service.get_revision(session)
        log.info(
            "knowledge folder %s: %d added, %d updated, %d removed, %d unchanged, "
            "%d kept deleted (deleted through the API)",
            self.settings.kb_dir,
            report.added,
            report.updated,
            report.removed,
            report.unchanged,
            report.kept_deleted,
        )
        for slug in report.restored:
            log.warning(
                "knowledge folder article %r was deleted through the API, but its file has "
                "changed since: synced again",
                slug,
            )
        return await self.knowledge.rebuild(
            published, revision=revision, encode=self.batcher.encode_many
        )

    async def stop(self) -> None:
        """Release the encoder thread, the intents' HTTP client and the database pool."""
        if self.sweeper is not None:
            await self.sweeper.stop()
        if self.refresher is not None:
            await self.refresher.stop()
        await self.broker.close()
        await self.intents.close()
        await self.batcher.close()
        await self.db.dispose()
        gc.unfreeze()  # what this runtime held can be collected again
