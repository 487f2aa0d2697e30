"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The model and the knowledge index are loaded (503 until they are)."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    build = runtime.knowledge.last_build
    body: dict[str, Any] = {
        "status": "ready",
        "encoder": {
            "backend": runtime.embedder.backend,
            "dimension": runtime.embedder.dimension,
            "workers": runtime.batcher.stats.workers,
            "threads_per_call": runtime.embedder.threads,
            "batches": runtime.batcher.stats.batches,
            "texts": runtime.batcher.stats.texts,
            "largest_batch": runtime.batcher.stats.largest_batch,
            "busy_seconds": round(runtime.batcher.stats.busy_seconds, 3),
            # The query-embedding cache of customer messages (exact repeats).
            "cache_hits": runtime.batcher.stats.cache_hits,
            "cache_misses": runtime.batcher.stats.cache_misses,
            "cache_entries": runtime.batcher.cache_entries,
        },
        "knowledge": {
            "revision": runtime.knowledge.revision,
            "articles": runtime.knowledge.article_count,
            "passages": build.passages if build else 0,
            "embedded_at_last_build": build.embedded if build else 0,
            "last_build_seconds": round(build.seconds, 3) if build else 0.0,
            "index": build.index_kind if build else "flat",
            "index_source": build.index_source if build else "built",
            # Whether the last background rebuild failed (the details are in the log).
            "refresh_failing": bool(runtime.refresher and runtime.refresher.last_error),
        },
        "startup_seconds": round(runtime.startup_seconds, 2),
        "database": runtime.db.engine.dialect.name,
    }
    writer = runtime.db.writer
    if writer is not None:  # SQLite: the group-committing writer thread
        stats = writer.stats
        body["database_writer"] = {
            "groups": stats.groups,
            "transactions": stats.transactions,
            "largest_group": stats.largest_group,
            "regrouped": stats.regrouped,
            "busy_seconds": round(stats.busy_seconds, 3),
            "cpu_seconds": round(stats.cpu_seconds, 3),
        }
    return JSONResponse(body)
