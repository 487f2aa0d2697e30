"""Runs a conversation suite through the bot's own turn code: for each conversation, a
conversation is opened in a throwaway scratch database (as the suite's verified customer, or
anonymous) and every turn goes through `Bot.handle_customer_message` (understanding → plan →
store), so the dialogue state carries across turns exactly as for a customer. The running
models (encoder, knowledge index, intents, sentiment) are shared; nothing is written to the
live conversations or analytics, and no live event is published. HTTP intents are not called
unless asked (`call_integrations`): such a turn is stored, and reported, as kind `intent` with
its intent and slots.

Against a draft article, the draft's passages are embedded into a private overlay of the
index (`KnowledgeIndex.overlay`), never into the live one.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bot.pipeline import Bot
from app.bot.understanding import MessageReader
from app.config import Settings
from app.conversations import service as conversation_service
from app.conversations.access import CustomerAccess
from app.conversations.schemas import MessageIn
from app.db import Database
from app.errors import Conflict, NotFound
from app.identity import VerifiedCustomer
from app.intents.engine import IntentEngine
from app.kb import service as kb_service
from app.kb.knowledge import KnowledgeIndex
from app.kb.models import Article
from app.kb.writes import PUBLISHED
from app.nlp.batcher import MicroBatcher
from app.realtime.broker import MemoryBroker
from app.suites.checks import TurnSeen, failures
from app.suites.definitions import Conversation, Suite


@dataclass(frozen=True)
class TurnOutcome:
    """One turn's result: pass or fail, why, and what the bot did (None: not run, because
    the conversation had ended with a handoff)."""

    number: int
    say: str
    expect: dict[str, Any] | None
    failures: list[str]
    seen: TurnSeen | None

    @property
    def passed(self) -> bool:
        """Every expectation of the turn held."""
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "turn": self.number,
            "say": self.say,
            "expect": self.expect,
            "passed": self.passed,
            "failures": self.failures,
            "bot": self.seen.as_dict() if self.seen is not None else None,
        }


@dataclass(frozen=True)
class ConversationOutcome:
    """A conversation's turns and whether all of them passed."""

    name: str
    category: str
    source: str
    turns: list[TurnOutcome]

    @property
    def passed(self) -> bool:
        """Every turn passed."""
        return all(t.passed for t in self.turns)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "category": self.category,
            "source": self.source,
            "passed": self.passed,
            "turns": [t.as_dict() for t in self.turns],
        }


@dataclass(frozen=True)
class SuiteRun:
    """A whole run: when, against which knowledge (and draft), and every conversation."""

    suite: str
    started_at: str
    seconds: float
    knowledge_revision: int
    draft: dict[str, Any] | None
    call_integrations: bool
    conversations: list[ConversationOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every conversation passed."""
        return all(c.passed for c in self.conversations)

    def by_category(self) -> dict[str, dict[str, int]]:
        """Per category: conversations passed and run, turns passed and checked."""
        table: dict[str, dict[str, int]] = {}
        for c in self.conversations:
            row = table.setdefault(
                c.category, {"conversations": 0, "passed": 0, "turns": 0, "turns_passed": 0}
            )
            row["conversations"] += 1
            row["passed"] += c.passed
            row["turns"] += len(c.turns)
            row["turns_passed"] += sum(t.passed for t in c.turns)
        return dict(sorted(table.items()))

    def summary(self) -> dict[str, int]:
        """Totals over the run."""
        turns = [t for c in self.conversations for t in c.turns]
        return {
            "conversations": len(self.conversations),
            "passed": sum(c.passed for c in self.conversations),
            "failed": sum(not c.passed for c in self.conversations),
            "turns": len(turns),
            "turns_passed": sum(t.passed for t in turns),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what `--json` writes, the API returns and the run store keeps."""
        return {
            "suite": self.suite,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "knowledge_revision": self.knowledge_revision,
            "draft": self.draft,
            "call_integrations": self.call_integrations,
            "passed": self.passed,
            "summary": self.summary(),
            "by_category": self.by_category(),
            "conversations": [c.as_dict() for c in self.conversations],
        }


class SuiteRunner:
    """Runs suites with the service's running models, each run on its own scratch database."""

    def __init__(
        self,
        *,
        db: Database,
        batcher: MicroBatcher,
        knowledge: KnowledgeIndex,
        intents: IntentEngine,
        reader: MessageReader,
        settings: Settings,
    ) -> None:
        self._db = db  # the live database: read only, for published and draft articles
        self._batcher = batcher
        self._knowledge = knowledge
        self._intents = intents
        self._reader = reader  # the service's own reader (its speller, its models)
        self._settings = settings
        self._running = asyncio.Lock()

    async def run_alone(
        self, suite: Suite, *, draft: Article | None = None, call_integrations: bool = False
    ) -> SuiteRun:
        """`run`, unless another run is going on in this process (409: suites share the
        encoder with the customers of the moment; one at a time)."""
        if self._running.locked():
            raise Conflict("a suite is running now; run this one when it has finished")
        async with self._running:
            return await self.run(suite, draft=draft, call_integrations=call_integrations)

    async def draft_article(self, article_id: int) -> Article:
        """The article to try as if published (404 if there is none; 409 if it is published
        already: the live knowledge has it)."""
        async with self._db.sessions() as session:
            article = await session.get(Article, article_id)
            if article is None:
                raise NotFound(f"article {article_id} not found")
            if article.status == PUBLISHED:
                raise Conflict(
                    f"article {article_id} is published already; pick a draft to see what "
                    "publishing it would change"
                )
            session.expunge(article)
            return article

    async def _overlay(self, draft: Article, folder: Path) -> KnowledgeIndex:
        async with self._db.sessions() as session:
            published = await kb_service.list_published(session)
            for article in published:
                session.expunge(article)
        articles = [a for a in published if a.id != draft.id] + [draft]
        overlay = self._knowledge.overlay(folder)
        await overlay.rebuild(
            articles, revision=self._knowledge.revision, encode=self._batcher.encode_many
        )
        return overlay

    async def run(
        self, suite: Suite, *, draft: Article | None = None, call_integrations: bool = False
    ) -> SuiteRun:
        """Run every conversation of `suite`, one after another (so a run is reproducible),
        on a fresh scratch database, against the live index or an overlay with `draft`."""
        began = time.perf_counter()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        with tempfile.TemporaryDirectory(prefix="switchboard-suite-") as scratch:
            folder = Path(scratch)
            knowledge = self._knowledge
            if draft is not None:
                knowledge = await self._overlay(draft, folder / "index")
            reader = self._reader.with_knowledge(knowledge)
            db = Database(f"sqlite+aiosqlite:///{folder / 'suite.db'}")
            broker = MemoryBroker()
            try:
                await db.migrate()
                bot = Bot(
                    db=db,
                    reader=reader,
                    intents=self._intents,
                    access=CustomerAccess(db),
                    broker=broker,
                    settings=self._settings,
                    call_integrations=call_integrations,
                )
                slugs = {i: ref.slug for i, ref in knowledge.snapshot_vectors()[1].items()}
                outcomes = [
                    await _run_conversation(bot, db, source, conversation, slugs)
                    for source, conversation in suite.conversations
                ]
            finally:
                await broker.close()
                await db.dispose()
        return SuiteRun(
            suite=suite.name,
            started_at=started,
            seconds=time.perf_counter() - began,
            knowledge_revision=self._knowledge.revision,
            draft={"id": draft.id, "slug": draft.slug, "title": draft.title} if draft else None,
            call_integrations=call_integrations,
            conversations=outcomes,
        )


async def _run_conversation(
    bot: Bot, db: Database, source: str, conversation: Conversation, slugs: dict[int, str]
) -> ConversationOutcome:
    customer = (
        VerifiedCustomer(
            conversation.customer.id, conversation.customer.email, conversation.customer.name
        )
        if conversation.customer is not None
        else None
    )
    summary, token = await db.run(conversation_service.create, customer=customer)
    turns: list[TurnOutcome] = []
    ended_at: int | None = None
    for number, turn in enumerate(conversation.turns, start=1):
        expect = turn.expect.model_dump(exclude_none=True) if turn.expect else None
        if ended_at is not None:
            turns.append(
                TurnOutcome(
                    number,
                    turn.say,
                    expect,
                    [f"not run: the bot handed off at turn {ended_at}"],
                    None,
                )
            )
            continue
        outcome = await bot.handle_customer_message(
            conversation_id=summary.id, token=token, message_in=MessageIn(text=turn.say)
        )
        reply = outcome.result.reply
        if reply is None:  # the conversation is with a person: the bot stays silent
            seen = TurnSeen(kind="none", reason="with_a_person", text="")
        else:
            stored = await db.read(
                conversation_service.list_after,
                conversation_id=summary.id,
                after=reply.seq - 1,
                limit=1,
            )
            seen = TurnSeen.from_meta(stored[0].text, stored[0].meta or {}, slugs)
        turns.append(TurnOutcome(number, turn.say, expect, failures(turn.expect, seen), seen))
        if seen.kind == "handoff":
            ended_at = number
    return ConversationOutcome(conversation.name, conversation.category, source, turns)
