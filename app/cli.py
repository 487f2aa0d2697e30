"""The command line: `python -m app serve | migrate | ask | kb sync`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer

from app.config import Settings

cli = typer.Typer(
    help="Switchboard: AI-assisted customer-support chat.",
    no_args_is_help=True,
    add_completion=False,
)
kb_cli = typer.Typer(help="Knowledge-base maintenance.", no_args_is_help=True)
cli.add_typer(kb_cli, name="kb")


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
    """Run the HTTP service (loads the model and the knowledge base first)."""
    import uvicorn

    from app.main import create_app

    settings = Settings()
    _configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@cli.command()
def migrate() -> None:
    """Apply database migrations and exit."""
    from app.db import Database

    settings = Settings()
    _configure_logging(settings)

    async def run() -> None:
        db = Database(settings.sqlalchemy_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo("database is up to date")


@cli.command()
def ask(question: Annotated[str, typer.Argument(help="What a customer would write.")]) -> None:
    """Show what the bot would reply to QUESTION, and why (starts like `serve`: migrates and
    syncs the KB folder, but stores no conversation)."""
    from app.conversations.turn import plan_reply, understand
    from app.policy.decision import ConversationState
    from app.runtime import Runtime

    settings = Settings()
    _configure_logging(settings)

    async def run() -> None:
        runtime = await Runtime.start(settings)
        try:
            reply = plan_reply(await understand(runtime, question), ConversationState(), settings)
            typer.echo(json.dumps({**reply.meta, "text": reply.text}, indent=2))
        finally:
            await runtime.stop()

    asyncio.run(run())


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


def main() -> None:
    """Entry point of `python -m app`."""
    cli()
