"""Fuzzes the API against its OpenAPI schema (`scripts/fuzzkit.py`) on a freshly started
service (`python -m app serve`, a new data folder, SQLite), with a customer, an agent and an
admin token, and reports cases sent, 5xx, statuses the schema does not document and failures
of the stateless checks.

Run from the repo root: `python scripts/fuzz_api.py [--examples 25] [--json PATH]
[--before PATH] [--write]`. `--json` saves the figures; `--before` puts a saved run's figures
(e.g. of an earlier commit) in a "before" row; `--write` rewrites the `fuzz` section of
docs/SECURITY.md. Rate limits are off in the fuzzed service (`SWITCHBOARD_RATE_LIMITS__ENABLED`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts import servicekit  # noqa: E402
from scripts.fuzzkit import fuzz_api, sign_in_all  # noqa: E402
from scripts.reportkit import ran_on, write_doc_section  # noqa: E402

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
ADMIN_EMAIL = "fuzz.admin@example.com"
ADMIN_PASSWORD = "fuzz admin password 1"


def measure(examples: int) -> dict[str, Any]:
    """Start a service, fuzz it, return the figures."""
    env = {
        "SWITCHBOARD_ADMIN_EMAIL": ADMIN_EMAIL,
        "SWITCHBOARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SWITCHBOARD_RATE_LIMITS__ENABLED": "false",
    }
    with servicekit.fresh_service(env, prefix="fuzz-", prepare=True) as service:
        base_url = f"http://127.0.0.1:{service.port}"
        credentials = sign_in_all(base_url, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
        report = fuzz_api(
            base_url,
            credentials,
            examples=examples,
            progress=lambda label: print(label, file=sys.stderr, flush=True),
        )
    return {
        "examples": examples,
        "operations": report.operations,
        "cases": report.cases,
        "server_errors": sorted(set(report.server_errors)),
        "server_error_count": len(report.server_errors),
        "undocumented": sorted(report.undocumented),
        "failures": sorted(report.failures),
        "statuses": {str(k): v for k, v in sorted(report.statuses.items())},
        "samples": report.samples,
    }


def section(after: dict[str, Any], before: dict[str, Any] | None) -> str:
    """The `fuzz` section of docs/SECURITY.md."""
    rows = [(before.get("label", "before"), before)] if before else []
    rows.append(("now", after))
    lines = [
        ran_on(),
        "",
        "Every operation of `/openapi.json` with the credential it is meant for (customer, "
        "agent, admin token), positive and negative generation, path ids generated and pinned "
        "to a real conversation, plus one request per path with a method it does not serve. "
        "`make test` runs the same with fewer examples (`tests/test_api_fuzz.py`).",
        "",
        "| run | examples per operation and mode | operations | cases | 5xx | undocumented "
        "(operation, status) | check failures |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        assert r is not None
        lines.append(
            f"| {name} | {r['examples']} | {r['operations']} | {r['cases']:,} | "
            f"{r['server_error_count']} | {len(r['undocumented'])} | {len(r['failures'])} |"
        )
    statuses = ", ".join(f"{k}: {v:,}" for k, v in after["statuses"].items())
    lines += ["", f"Statuses now: {statuses}."]
    for title, key in (("5xx", "server_errors"), ("Undocumented", "undocumented")):
        if after[key]:
            lines += ["", f"{title} now: " + "; ".join(f"`{x}`" for x in after[key]) + "."]
    if after["failures"]:
        lines += ["", "Check failures now: " + "; ".join(f"`{x}`" for x in after["failures"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=25, help="per operation and mode")
    parser.add_argument("--json", type=Path, help="save the figures here")
    parser.add_argument("--before", type=Path, help="a saved run shown as the 'before' row")
    parser.add_argument("--write", action="store_true", help="rewrite docs/SECURITY.md")
    args = parser.parse_args()
    figures = measure(args.examples)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
    text = section(figures, before)
    print(text)
    if args.write:
        write_doc_section("fuzz", text, SECURITY)


if __name__ == "__main__":
    main()
