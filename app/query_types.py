"""Strict types for values read from a URL (query and path parameters), so a route accepts
exactly what its OpenAPI schema says and refuses the rest with a 422 naming the expected form.

Pydantic's lax mode would read `?to=0` as 1970-01-01, `?limit=1.0` or `+1` or `1_0` as whole
numbers and `?wait=yes` as true; these validators accept only `YYYY-MM-DD`, digits (with an
optional leading `-`) and `true`/`false`. Put them after the `Query`/`Path`, so its bounds stay
in the schema as `minimum`/`maximum`: `Annotated[int, Query(ge=1, le=500), WHOLE]`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHOLE = re.compile(r"-?\d{1,19}")


def _day(value: Any) -> Any:
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD, e.g. 2026-12-03")
    return value


def _whole(value: Any) -> Any:
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise ValueError("expected a whole number written in digits, e.g. 20")
    return value


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("expected true or false")
        return value == "true"
    return value


DAY = BeforeValidator(_day)
WHOLE = BeforeValidator(_whole)
FLAG = BeforeValidator(_flag)
