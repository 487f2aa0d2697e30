"""The admin API of conversation suites (the console's Tests page): the suites of the
configured folder, a run (a suite by name or pasted YAML, against the live knowledge or with
a draft article as if published) with its diff from the suite's last run on the live
knowledge, and the suite's recent runs. Admins only (agents get 403)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.auth.deps import CurrentAdmin
from app.deps import SettingsDep
from app.error_responses import ADMIN, errors
from app.errors import NotFound, Unprocessable
from app.suites.definitions import Suite, SuiteInvalid, load_named, parse_suite, suites_in
from app.suites.deps import RunStoreDep, SuiteRunnerDep
from app.suites.runs import diff_runs
from app.suites.schemas import RunIn

router = APIRouter(prefix="/api/v1/admin/tests", tags=["conversation tests"], responses=ADMIN)


@router.get("/suites")
async def list_suites(_admin: CurrentAdmin, settings: SettingsDep) -> dict[str, Any]:
    """The suites of the suites folder (`SWITCHBOARD_TEST_SUITES_DIR`), by name; an empty
    list when none is configured (paste a suite instead)."""
    folder = settings.test_suites_dir
    names = await asyncio.to_thread(suites_in, folder) if folder is not None else []
    return {"folder_configured": folder is not None, "suites": names}


def _invalid(exc: SuiteInvalid) -> Unprocessable:
    return Unprocessable(f"the suite is not valid: {exc.problems[0]}", problems=exc.problems)


async def _suite(run_in: RunIn, settings: SettingsDep) -> Suite:
    try:
        if run_in.yaml is not None:
            return parse_suite(run_in.yaml, name=run_in.name)
        folder = settings.test_suites_dir
        if folder is None:
            raise NotFound(
                "no suites folder is configured (SWITCHBOARD_TEST_SUITES_DIR); send the "
                "suite's text as `yaml`"
            )
        assert run_in.suite is not None
        return await asyncio.to_thread(load_named, folder, run_in.suite)
    except SuiteInvalid as exc:
        raise _invalid(exc) from None
    except KeyError:
        raise NotFound(
            f"no suite {run_in.suite!r} in the suites folder; GET /api/v1/admin/tests/suites "
            "lists them"
        ) from None


@router.post("/runs", responses=errors(404, 409))
async def run_suite(
    run_in: RunIn,
    _admin: CurrentAdmin,
    settings: SettingsDep,
    runner: SuiteRunnerDep,
    store: RunStoreDep,
) -> dict[str, Any]:
    """Run a suite through the bot's own turn code on a scratch database (nothing is stored
    in the live conversations; no integration is called), against the live knowledge or, with
    `draft_article_id`, with that draft as if published (its passages go into a private copy
    of the index, never the live one). Returns the run and its diff from the suite's last run
    on the live knowledge; the run is kept. 409 while another suite is running."""
    suite = await _suite(run_in, settings)
    draft = None
    if run_in.draft_article_id is not None:
        draft = await runner.draft_article(run_in.draft_article_id)
    run = (await runner.run_alone(suite, draft=draft)).as_dict()
    previous = await asyncio.to_thread(store.baseline, suite.name)
    await asyncio.to_thread(store.save, run)
    return {"run": run, "diff": diff_runs(previous, run)}


@router.get("/runs")
async def recent_runs(
    _admin: CurrentAdmin,
    store: RunStoreDep,
    suite: Annotated[str, Query(min_length=1, max_length=200, description="The suite's name.")],
) -> dict[str, Any]:
    """The suite's kept runs, newest first: when, against which knowledge and draft, and
    the totals."""
    runs = await asyncio.to_thread(store.runs, suite)
    keys = ("started_at", "knowledge_revision", "draft", "passed", "summary", "seconds")
    return {"suite": suite, "runs": [{k: r.get(k) for k in keys} for r in reversed(runs)]}
