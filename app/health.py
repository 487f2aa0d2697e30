"""Liveness and readiness probes.

/healthz: the process is up. /readyz: 503 `starting` until the model and index are loaded; then
200 `ready`, or 503 `degraded` with `failing` naming each check that fails: `database` (it
cannot be written: disk full, read-only, cannot be opened; `app.storage` names the path),
`knowledge_index` (a new index cannot be written to the index folder: it serves from memory
meanwhile), `knowledge_refresh` (the last background rebuild failed). Each check is run on the
call, so the status recovers as soon as the cause goes away.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.storage import probe_folder

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": 'Still starting: `{"status": "starting"}`.',
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def readyz(request: Request) -> JSONResponse:
    """The model and the knowledge index are loaded and the data can be written (503 with
    `starting` or `degraded` and the failing checks otherwise)."""
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
            # Why the ONNX backend is not used, when it was asked for and failed (else null).
            "fallback": runtime.embedder.fallback_reason,
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
    checks = await _checks(runtime)
    failing = [name for name, check in checks.items() if not check["ok"]]
    body["checks"] = checks
    if failing:
        body["status"] = "degraded"
        body["failing"] = failing
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


async def _checks(runtime: Any) -> dict[str, dict[str, Any]]:
    """Each readiness check: `{"ok": true}`, or `{"ok": false, ...}` saying what and where."""
    checks: dict[str, dict[str, Any]] = {}
    problem = await runtime.db.check_writable()
    checks["database"] = {"ok": True} if problem is None else {"ok": False, **problem.as_json()}
    knowledge = runtime.knowledge
    problem = await asyncio.to_thread(probe_folder, runtime.settings.index_dir)
    if problem is None and not await asyncio.to_thread(knowledge.save_pending):
        problem = knowledge.storage.problem
    checks["knowledge_index"] = (
        {"ok": True} if problem is None else {"ok": False, **problem.as_json()}
    )
    error = runtime.refresher.last_error if runtime.refresher else None
    checks["knowledge_refresh"] = {"ok": True} if error is None else {"ok": False, "error": error}
    return checks
