"""The command line: `python -m app serve | migrate | ask | replay | eval | kb sync | kb import |
kb export | kb reindex | create-user | test conversations`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from app.auth.models import Role
from app.config import Settings

cli = typer.Typer(
    help="Switchboard: AI-assisted customer-support chat.",
    no_args_is_help=True,
    add_completion=False,
)
kb_cli = typer.Typer(help="Knowledge-base maintenance.", no_args_is_help=True)
cli.add_typer(kb_cli, name="kb")
eval_cli = typer.Typer(
    help="Evaluate the product's models on labelled CSV files (text,label); prints a table "
    "and writes JSON.",
    no_args_is_help=True,
)
cli.add_typer(eval_cli, name="eval")
test_cli = typer.Typer(
    help="Run conversation suites (YAML) through the bot's own turn code.", no_args_is_help=True
)
cli.add_typer(test_cli, name="test")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Libraries' own progress lines are noise in the service's log.
    for noisy in ("sentence_transformers", "transformers", "optimum"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the HTTP service (loads the model and the knowledge base first), with the transport
    limits of `SWITCHBOARD_SERVER__*` (header deadline and size, WebSocket frame size)."""
    import uvicorn

    from app import server_limits
    from app.db import DataUnusable
    from app.main import create_app
    from app.runtime import check_data_folders

    settings = Settings()
    _configure_logging(settings)
    try:  # before the model loads: a folder that cannot be written stops the start at once
        check_data_folders(settings)
    except DataUnusable as exc:
        typer.echo(f"switchboard: {exc}", err=True)
        raise typer.Exit(2) from exc
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        # The client address is read from X-Forwarded-For only when the peer is one of
        # SWITCHBOARD_TRUSTED_PROXIES (app/ratelimit/addresses.py); uvicorn's own handling
        # would trust it from 127.0.0.1 by default and hide the real peer.
        proxy_headers=False,
        **server_limits.uvicorn_options(settings.server),
    )


@cli.command()
def migrate() -> None:
    """Apply database migrations and exit."""
    from app.db import Database, DataUnusable
    from app.runtime import check_data_folders

    settings = Settings()
    _configure_logging(settings)

    async def run() -> None:
        db = Database(settings.sqlalchemy_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    try:
        check_data_folders(settings)
        asyncio.run(run())
    except DataUnusable as exc:
        typer.echo(f"switchboard: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo("database is up to date")


@cli.command()
def ask(question: Annotated[str, typer.Argument(help="What a customer would write.")]) -> None:
    """Show what the bot would reply to QUESTION, and why (starts like `serve`: migrates and
    syncs the KB folder, but stores no conversation)."""
    from app.conversations.dialog import Dialog
    from app.runtime import Runtime

    settings = Settings()
    _configure_logging(settings)

    async def run() -> None:
        runtime = await Runtime.start(settings)
        try:
            bot = runtime.bot
            reply = bot.plan_reply(await bot.understand(question), Dialog())
            meta = {k: v for k, v in reply.meta.items() if k != "policy_input"}
            typer.echo(json.dumps({**meta, "text": reply.text}, indent=2))
        finally:
            await runtime.stop()

    asyncio.run(run())


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command()
def replay(
    since: Annotated[str, typer.Option(help="Replay turns stored from this date (YYYY-MM-DD).")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="A policy setting to change, as key=value (repeatable).", metavar="K=V"
        ),
    ] = None,
    examples: Annotated[int, typer.Option(help="How many flipped turns to list.")] = 20,
) -> None:
    """Re-run the policy over stored turns with other thresholds and show what would change:
    decisions by kind, handoff rate by reason, and the turns that flip. Loads no model."""
    from app.conversations.recorded import load_turns
    from app.db import Database
    from app.policy.replay import RecordedTurn, parse_overrides
    from app.policy.replay import replay as run_replay

    settings = Settings()
    _configure_logging(settings)
    try:
        changed = parse_overrides(set_ or [], settings.policy)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--set") from exc
    moment = _since(since)

    async def run() -> list[RecordedTurn]:
        db = Database(settings.sqlalchemy_url)
        try:
            await db.migrate()
            return await db.read(load_turns, since=moment)
        finally:
            await db.dispose()

    turns = asyncio.run(run())
    report = run_replay(turns, settings.policy, changed)
    kinds = sorted(set(report.before) | set(report.after))
    total = max(report.turns, 1)
    typer.echo(f"{report.turns} turns since {moment.date()}; {len(report.flips)} would change\n")
    typer.echo("| decision | now | with changes | change |")
    typer.echo("|---|---:|---:|---:|")
    for kind in kinds:
        now, new = report.before[kind], report.after[kind]
        typer.echo(
            f"| {kind} | {now} ({now / total:.1%}) | {new} ({new / total:.1%}) | {new - now:+d} |"
        )
    typer.echo(json.dumps(report.as_dict(examples=examples), indent=2))


@cli.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in address (case is ignored).")],
    name: Annotated[str, typer.Option(help="Display name shown to customers and staff.")],
    role: Annotated[Role, typer.Option(help="agent works conversations; admin also manages.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Asked for when omitted (safer: a command line is visible to other users).",
        ),
    ],
) -> None:
    """Create a staff account (migrates the database first; loads no model)."""
    from pydantic import ValidationError

    from app.auth import service as auth_service
    from app.auth.schemas import UserIn
    from app.db import Database
    from app.errors import Conflict

    settings = Settings()
    _configure_logging(settings)
    try:
        user_in = UserIn(email=email, password=password, name=name, role=role)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            typer.echo(f"--{field}: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None

    async def run() -> auth_service.StaffUser:
        db = Database(settings.sqlalchemy_url)
        try:
            await db.migrate()
            return await db.run(
                auth_service.create_user,
                email=user_in.email,
                password=user_in.password,
                name=user_in.name,
                role=user_in.role,
            )
        finally:
            await db.dispose()

    try:
        user = asyncio.run(run())
    except Conflict as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {user.role} {user.email} (id {user.id})")


@kb_cli.command("sync")
def kb_sync() -> None:
    """Load the knowledge-base folder into the database and rebuild the index."""
    from app.runtime import Runtime

    settings = Settings()
    _configure_logging(settings)

    async def run() -> None:
        runtime = await Runtime.start(settings)
        try:
            build = runtime.knowledge.last_build
            typer.echo(json.dumps(build.__dict__ if build else {}, indent=2))
        finally:
            await runtime.stop()

    asyncio.run(run())


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal); yields `update(done, total)`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


FormatOption = Annotated[
    Literal["json", "csv", "zip"] | None,
    typer.Option("--format", help="json, csv or zip; by default told by the file name."),
]


@kb_cli.command("import")
def kb_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            readable=True,
            help="A .json, .csv or .zip file (or a folder of Markdown articles).",
        ),
    ],
    format_: FormatOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and count; write nothing.")
    ] = False,
) -> None:
    """Import articles into the configured database, all or nothing (by slug: new ones are
    created, changed ones get a new version). A running server picks the change up within
    seconds. Prints the counts as JSON; on invalid rows prints each and exits 1."""
    from app.db import Database
    from app.errors import AppError
    from app.kb import imports

    settings = Settings()
    _configure_logging(settings)
    try:
        with _progress("Validating") as update:
            if file.is_dir() and format_ is None:
                drafts = imports.read_markdown_folder(file, progress=update)
            else:
                fmt = format_ or imports.format_from_path(file)
                if fmt is None:
                    raise typer.BadParameter(
                        "cannot tell the format from the file name; add --format json|csv|zip",
                        param_hint="FILE",
                    )
                drafts = imports.read_import(file.read_bytes(), fmt, progress=update)
    except AppError as exc:
        _print_import_problems(exc)
        raise typer.Exit(1) from None

    async def run() -> dict[str, Any]:
        db = Database(settings.sqlalchemy_url)
        try:
            await db.migrate()
            with _progress("Importing") as update:
                call = db.read if dry_run else db.run
                counts = await call(
                    imports.apply_import,
                    drafts=drafts,
                    author_id=None,
                    dry_run=dry_run,
                    progress=update,
                )
            if not dry_run:
                await _announce_kb_change(settings, counts["revision"])
            return counts
        finally:
            await db.dispose()

    try:
        counts = asyncio.run(run())
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({**counts, "dry_run": dry_run}))


def _print_import_problems(exc: Any) -> None:
    typer.echo(exc.message, err=True)
    for problem in exc.details.get("fields", []):
        where = f"row {problem['row']}" if "row" in problem else problem.get("file", "")
        typer.echo(f"  {where}: {problem['field']}: {problem['message']}", err=True)


async def _announce_kb_change(settings: Settings, revision: int) -> None:
    """Tell running servers at once over Redis when configured (they poll the revision
    anyway)."""
    if not settings.redis_url:
        return
    from app.kb.refresher import KB_CHANNEL
    from app.realtime.factory import create_broker

    broker = create_broker(settings)
    try:
        await broker.publish(KB_CHANNEL, {"type": "kb.changed", "revision": revision})
    except Exception as exc:  # servers still see the change by polling
        logging.getLogger(__name__).warning("could not announce the change: %s", exc)
    finally:
        await broker.close()


@kb_cli.command("export")
def kb_export(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help="Where to write (.json, .csv or .zip).")
    ],
    format_: FormatOption = None,
    status: Annotated[
        Literal["draft", "published", "archived"] | None,
        typer.Option(help="Only articles with this status (default: all)."),
    ] = None,
) -> None:
    """Write every article of the configured database to FILE, in the format the import
    reads."""
    from app.db import Database
    from app.kb import exports, imports

    settings = Settings()
    _configure_logging(settings)
    fmt = format_ or imports.format_from_path(file)
    if fmt is None:
        raise typer.BadParameter(
            "cannot tell the format from the file name; add --format json|csv|zip",
            param_hint="FILE",
        )

    async def run() -> tuple[list[dict[str, Any]], int]:
        db = Database(settings.sqlalchemy_url)
        try:
            await db.migrate()
            return await db.read(exports.read_articles, status=status)
        finally:
            await db.dispose()

    rows, revision = asyncio.run(run())
    content = exports.render(fmt, rows, revision=revision)
    partial = file.with_name(f".{file.name}.partial")
    partial.write_bytes(content)
    partial.replace(file)
    typer.echo(f"exported {len(rows)} articles to {file} ({fmt}, revision {revision})", err=True)


@kb_cli.command("reindex")
def kb_reindex(
    full: Annotated[
        bool, typer.Option("--full", help="Re-embed every article, not only missing ones.")
    ] = False,
) -> None:
    """Rebuild the stored vector index of published articles (embeds what is missing, or
    everything with --full), so that the next start is fast. Prints the build as JSON."""
    from app.kb.reindex import reindex

    settings = Settings()
    _configure_logging(settings)
    with _progress("Embedding passages") as update:
        report = asyncio.run(reindex(settings, full=full, progress=update))
    rate = report.embedded / report.seconds if report.seconds else 0.0
    typer.echo(json.dumps({**report.__dict__, "passages_per_second": round(rate, 1)}))


def _scratch_settings(settings: Settings, scratch: Path) -> Settings:
    """`settings` with a scratch data folder and database (nothing live is read or written),
    reusing the data folder's encoder export (`models/`, a cache) and a copy of its index
    (so unchanged articles are not embedded again)."""
    import shutil

    live_models = settings.model_cache_dir.resolve()
    live_models.mkdir(parents=True, exist_ok=True)
    (scratch / "models").symlink_to(live_models, target_is_directory=True)
    if settings.index_dir.is_dir():
        shutil.copytree(settings.index_dir, scratch / "index")
    return settings.model_copy(
        update={
            "data_dir": scratch,
            "database_url": None,
            "redis_url": None,
            "admin_email": None,
            "admin_password": None,
        }
    )


@test_cli.command("conversations")
def test_conversations(
    suite: Annotated[
        Path, typer.Argument(help="A suite file (YAML) or a folder of *.yaml suite files.")
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the whole run as JSON to this file.")
    ] = None,
    kb: Annotated[
        Path | None,
        typer.Option(
            help="Knowledge folder to test (default: SWITCHBOARD_KB_DIR).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    intents: Annotated[
        Path | None,
        typer.Option(
            help="Intents folder to test (default: SWITCHBOARD_INTENTS_DIR).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    call_integrations: Annotated[
        bool,
        typer.Option(
            "--call-integrations",
            help="Call the systems HTTP intents use (default: such a turn is reported as kind "
            "`intent` with its intent and slots, and nothing is called).",
        ),
    ] = False,
) -> None:
    """Run the conversations of SUITE through the bot's own turn code (understanding, policy,
    dialogue state) with the settings `serve` would use, on a scratch data folder and database:
    prints a pass/fail table with the reason for each failure. Exit 0 when every turn passes,
    1 on any failure, 2 when the suite is not valid."""
    import tempfile

    from app.runtime import Runtime
    from app.suites.definitions import SuiteInvalid, load_suite
    from app.suites.report import format_run

    try:
        loaded = load_suite(suite)
    except SuiteInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"switchboard: {problem}", err=True)
        raise typer.Exit(2) from None
    base = Settings()
    _configure_logging(base)
    overrides: dict[str, Any] = {}
    if kb is not None:
        overrides["kb_dir"] = kb
    if intents is not None:
        overrides["intents_dir"] = intents
    base = base.model_copy(update=overrides)

    async def run(scratch: Path) -> dict[str, Any]:
        runtime = await Runtime.start(_scratch_settings(base, scratch))
        try:
            assert runtime.suites is not None
            result = await runtime.suites.run(loaded, call_integrations=call_integrations)
            return result.as_dict()
        finally:
            await runtime.stop()

    with tempfile.TemporaryDirectory(prefix="switchboard-test-") as scratch:
        report = asyncio.run(run(Path(scratch)))
    typer.echo(format_run(report))
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    if not report["passed"]:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of `python -m app`."""
    cli()


def _register_evaluations() -> None:
    from app.evaluation.intents import intents_command
    from app.evaluation.retrieval import retrieval_command
    from app.evaluation.sentiment import sentiment_command

    eval_cli.command("intents")(intents_command)
    eval_cli.command("retrieval")(retrieval_command)
    eval_cli.command("sentiment")(sentiment_command)


_register_evaluations()
