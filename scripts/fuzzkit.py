"""Fuzzing the running API against its own OpenAPI schema with schemathesis: every operation,
with the credential it is meant for (a customer's conversation token, an agent's or an admin's
staff token), in positive and negative generation modes, plus one request per path with a
method the path does not serve.

`fuzz_api(base_url, credentials, examples=N)` returns a `FuzzReport`: cases sent, every 5xx,
every status an operation returned that its schema does not document, and every failure of
the stateless checks (`CHECKS`). Shared by `tests/test_api_fuzz.py` (few examples, in
`make test`) and `scripts/fuzz_api.py` (more examples; writes docs/SECURITY.md).

Operations that end a credential (logout, deactivating an account) run last, so the others
keep a working token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# These end the credential they are called with (or another account's): run last.
ENDS_A_CREDENTIAL = re.compile(r"/logout$|/deactivate$")


@dataclass
class Credentials:
    """The bearer headers of each kind of caller, and a real conversation of the customer."""

    customer: dict[str, str]
    agent: dict[str, str]
    admin: dict[str, str]
    conversation_id: str


@dataclass
class FuzzReport:
    """What a fuzzing run found."""

    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    undocumented: set[str] = field(default_factory=set)
    failures: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    operations: int = 0
    # One response body per undocumented (operation, status) or 5xx, to see what it was.
    samples: dict[str, str] = field(default_factory=dict)

    def record(self, label: str, status: int, documented: set[str], body: str = "") -> None:
        """Count one response of operation `label`."""
        self.cases += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.server_errors.append(f"{label} -> {status}")
            self.samples.setdefault(f"{label} -> {status}", body[:300])
        if not {str(status), f"{status // 100}XX", "default"} & documented:
            self.undocumented.add(f"{label} -> {status}")
            self.samples.setdefault(f"{label} -> {status}", body[:300])


def credential_for(path: str, credentials: Credentials) -> dict[str, str]:
    """The headers an operation on `path` is meant to be called with."""
    if path.startswith("/api/v1/admin"):
        return credentials.admin
    if path.startswith("/api/v1/agent") or path.startswith("/api/v1/auth"):
        return credentials.agent
    if path.startswith("/api/v1/conversations"):
        return credentials.customer
    return {}


def _documented(operation: Any) -> set[str]:
    return {str(code) for code in operation.definition.raw.get("responses", {})}


def _run_operation(
    operation: Any,
    report: FuzzReport,
    *,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session,
    examples: int,
    path_parameters: dict[str, Any] | None,
) -> None:
    label = operation.label
    documented = _documented(operation)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
            body = response.content.decode("utf-8", "replace")
            report.record(label, response.status_code, documented, body)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    report.failures.add(f"{label}: {failure.title}")

        try:
            run()
        except Unsatisfiable:
            # Nothing can be sent wrong (no parameters, no body): negative mode has no case.
            assert mode is GenerationMode.NEGATIVE, label


def _wrong_methods(
    schema: Any, report: FuzzReport, *, base_url: str, session: requests.Session
) -> None:
    """One request per path with a method it does not serve: 405 with `Allow`."""
    for path, item in schema.raw_schema["paths"].items():
        served = {m for m in item if m in HTTP_METHODS}
        wrong = next(m for m in HTTP_METHODS if m not in served)
        url = base_url + re.sub(r"\{[^}]+\}", "1", path)
        response = session.request(wrong.upper(), url, timeout=60)
        label = f"{wrong.upper()} {path}"
        report.cases += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            report.server_errors.append(f"{label} -> {response.status_code}")
        if response.status_code != 405:
            report.failures.add(f"{label}: {response.status_code}, expected 405")
        elif not response.headers.get("allow"):
            report.failures.add(f"{label}: 405 without Allow")


def fuzz_api(
    base_url: str,
    credentials: Credentials,
    *,
    examples: int,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Fuzz every operation of the service at `base_url` (see the module docstring)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: bool(ENDS_A_CREDENTIAL.search(op.path)))
    report = FuzzReport(operations=len(operations))
    with requests.Session() as session:
        for operation in operations:
            if progress:
                progress(operation.label)
            headers = credential_for(operation.path, credentials)
            pinned = [None]
            names = {p.name for p in operation.iter_parameters() if p.location == "path"}
            if "conversation_id" in names:
                pinned.append({"conversation_id": credentials.conversation_id})
            for path_parameters in pinned:
                _run_operation(
                    operation,
                    report,
                    base_url=base_url,
                    headers=headers,
                    session=session,
                    examples=examples,
                    path_parameters=path_parameters,
                )
        _wrong_methods(schema, report, base_url=base_url, session=session)
    return report


def sign_in_all(base_url: str, *, admin_email: str, admin_password: str) -> Credentials:
    """A customer with a conversation, an agent created through the admin API and the admin,
    all signed in through the real API."""
    with requests.Session() as s:
        login = s.post(
            f"{base_url}/api/v1/auth/login",
            json={"email": admin_email, "password": admin_password},
            timeout=60,
        )
        login.raise_for_status()
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        agent_email, agent_password = "fuzz.agent@example.com", "fuzz agent password 1"
        created = s.post(
            f"{base_url}/api/v1/admin/users",
            json={
                "email": agent_email,
                "password": agent_password,
                "name": "Fuzz",
                "role": "agent",
            },
            headers=admin,
            timeout=60,
        )
        created.raise_for_status()
        login = s.post(
            f"{base_url}/api/v1/auth/login",
            json={"email": agent_email, "password": agent_password},
            timeout=60,
        )
        login.raise_for_status()
        agent = {"Authorization": f"Bearer {login.json()['token']}"}
        opened = s.post(f"{base_url}/api/v1/conversations", timeout=60)
        opened.raise_for_status()
        body = opened.json()
        customer = {"Authorization": f"Bearer {body['token']}"}
    return Credentials(customer=customer, agent=agent, admin=admin, conversation_id=body["id"])
