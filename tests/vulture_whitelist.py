"""What vulture (`make lint`; `[tool.vulture]` in pyproject.toml) reports as unused in app/ but
is used, each with what uses it. Vulture only parses this file: nothing imports or runs it
(pydantic fields are not class attributes, so those lines would fail if it ran).

Anything else vulture reports is dead code: check with grep across app/, tests/ and scripts/,
then delete it rather than adding it here.
"""

# ruff: noqa: B018 (each line is a use of a name, for vulture to read)

import sqlite3

import numpy as np
import onnxruntime

from app.agents.schemas import StaffConversationView
from app.analytics.schemas import (
    AgentStats,
    AnalyticsSummary,
    ConversationTotals,
    CsatStats,
    Durations,
    IntentStats,
    ReasonCount,
)
from app.auth.models import Presence
from app.auth.schemas import LoginResult
from app.conversations.models import Conversation, EventType
from app.conversations.schemas import CustomerConversationView, CustomerRead, MessagePage
from app.insights.schemas import GapCluster, GapReport, KbHealth, NeverMatched, StatusCounts
from app.kb import transfer_router
from app.kb.models import Article, FolderDeletion
from app.kb.schemas import ArticleRead
from app.nlp.human_request import HELD_OUT_FILE
from app.runtime import Runtime

# Response fields the routes return: FastAPI serializes them into the JSON clients read.
StaffConversationView.resolved_at
StaffConversationView.notes
LoginResult.enrol_second_factor
Durations.median_seconds
Durations.p90_seconds
ConversationTotals.containment_rate
ConversationTotals.handoff_rate
ReasonCount.share
CsatStats.response_rate
CsatStats.distribution
AgentStats.csat_count
AgentStats.csat_average
IntentStats.containment_rate
AnalyticsSummary.generated_at
MessagePage.has_more
CustomerConversationView.contact_email_saved
CustomerConversationView.csat_pending
CustomerRead.verified  # the API's "verified" mark on a conversation's customer
GapCluster.reasons
GapCluster.covered
GapCluster.held_by
GapReport.max_questions
GapReport.distance_threshold
GapReport.total_clusters
NeverMatched.age_days
StatusCounts.archived
KbHealth.duplicate_threshold
KbHealth.never_matched
ArticleRead.updated_by

# Table columns, written through `insert(...).values(name=...)`/`update(...)` keywords and read
# as `row["name"]` (app/agents/service.py, app/kb/articles.py, app/kb/exports.py).
Conversation.resolved_at
Article.updated_by

# Enum members used by value: `EventType.bot(kind)` builds `bot.<decision kind>` and
# BOT_EVENTS lists every `bot.*` member; agents set "away" through PUT /api/v1/agent/presence
# (the schema's Literal) and the presence column stores it.
EventType.BOT_ANSWER
EventType.BOT_RUN_INTENT
EventType.BOT_ASK_SLOT
EventType.BOT_CONFIRM
EventType.BOT_CANCEL_INTENT
EventType.BOT_SMALLTALK
Presence.AWAY

# The held-out phrasings, read only by scripts/eval_human_requests.py (never fitted on).
HELD_OUT_FILE

# Read by name through `provide("customer_access")` (app/conversations/deps.py).
Runtime.customer_access

# Read by name through `provide("suite_runs")` (app/suites/deps.py).
Runtime.suite_runs

# The `mode` query parameter of POST /api/v1/admin/kb/import: FastAPI validates it (anything but
# "upsert" is a 422), so the route itself never reads it.
transfer_router.import_articles.mode

# Attributes set on library objects, which read them: the sqlite3 driver (autocommit, so
# app/db.py issues BEGIN itself), ONNX Runtime's session options, numpy's read-only flag.
sqlite3.Connection.isolation_level
onnxruntime.SessionOptions.intra_op_num_threads
onnxruntime.SessionOptions.inter_op_num_threads
np.ndarray.flags.writeable

# When an admin deleted a knowledge-folder article: stored for the operator reading the table.
FolderDeletion.deleted_at
