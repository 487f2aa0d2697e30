"""Dependencies of the suites' routes: the runner and the store of past runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.deps import provide
from app.suites.runner import SuiteRunner
from app.suites.runs import RunStore

SuiteRunnerDep = Annotated[SuiteRunner, Depends(provide("suites"))]
RunStoreDep = Annotated[RunStore, Depends(provide("suite_runs"))]
