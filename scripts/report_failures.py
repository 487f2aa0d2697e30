"""Writes the "Honest failures" section of docs/SECURITY.md: each failure an operator may meet,
what they now see (the messages as `app.storage` words them, the /readyz body) and the test
that makes the failure real.

    python scripts/report_failures.py            # print the section
    python scripts/report_failures.py --write    # and put it into docs/SECURITY.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.storage import StorageProblem, StorageUnavailable
from scripts.reportkit import REPO_ROOT, command_line, write_doc_section

SECURITY = REPO_ROOT / "docs" / "SECURITY.md"
DATA = "/var/lib/switchboard"


def _error(problem: StorageProblem) -> str:
    error = StorageUnavailable(problem)
    body = {"error": {"code": error.code, "message": error.message, **error.details}}
    return f"{error.status_code} `{json.dumps(body)}`"


def section() -> str:
    """The section's Markdown."""
    full = StorageProblem("disk_full", f"{DATA}/switchboard.db", "OperationalError: ...")
    read_only = StorageProblem("read_only", f"{DATA}/switchboard.db", "OperationalError: ...")
    index = StorageProblem("read_only", f"{DATA}/index", "PermissionError: ...")
    start = StorageProblem("read_only", DATA, "OSError: [Errno 30] Read-only file system")
    ready = {
        "status": "degraded",
        "failing": ["database", "knowledge_index"],
        "checks": {
            "database": {"ok": False, **StorageProblem("disk_full", DATA, "").as_json()},
            "knowledge_index": {
                "ok": False,
                **StorageProblem("disk_full", f"{DATA}/index", "").as_json(),
            },
            "knowledge_refresh": {"ok": True},
        },
    }
    rows = [
        (
            "The disk holding the database is full (SQLITE_FULL, ENOSPC)",
            f"a write: {_error(full)}; /readyz 503 (below); logged once as an error with the "
            "cause, and once when it can be written again",
            "`tests/test_storage.py::test_a_full_disk_is_named_with_its_path_and_readyz_"
            "recovers` (a 48 MiB tmpfs filled to the last byte, then freed)",
        ),
        (
            "The database is read-only (SQLITE_READONLY, PostgreSQL 25006)",
            f"a write: {_error(read_only)}; /readyz 503 `database`",
            "no test of its own: classified by the same code as a full disk "
            "(`app/storage.py: classify`); the start-up check below covers a read-only folder",
        ),
        (
            "The index folder cannot be written (EROFS, EACCES, ENOSPC)",
            "a new or edited article is served at once from the index in memory; /readyz 503 "
            f"`knowledge_index`: `{json.dumps(index.as_json())}`; the write is retried on "
            "every refresher wake and by /readyz, which is 200 again once it succeeds",
            "`tests/test_storage.py::test_a_read_only_index_folder_still_serves_new_articles_"
            "and_readyz_says_so` (a read-only bind mount, then unmounted; the next start "
            "embeds nothing)",
        ),
        (
            "A data folder or database folder that cannot be written at start",
            f"`serve` and `migrate` exit 2 before the model loads: `switchboard: cannot start: "
            f"{start.message} (...)`; no traceback",
            "`tests/test_storage.py::test_a_start_on_a_read_only_data_folder_exits_naming_it`",
        ),
        (
            "A damaged ONNX export (a truncated model file)",
            "exported again at start (logged as a warning), served on ONNX",
            "`tests/nlp/test_encoder.py::test_a_truncated_export_is_exported_again_not_left_"
            "to_torch`",
        ),
        (
            "A saved encoder spec that gives other vectors",
            "every start encodes the probe texts and compares them with the vectors saved "
            "when the spec was checked; a mismatch is checked again through "
            "sentence-transformers and the spec rewritten",
            "`tests/nlp/test_encoder.py::test_a_spec_that_gives_other_vectors_is_checked_again`",
        ),
        (
            "ONNX cannot be used at all",
            "torch serves; logged as an error; /readyz `encoder.fallback` says why "
            "(`null` otherwise)",
            "`tests/nlp/test_encoder.py::test_a_fallback_to_torch_says_why`",
        ),
        (
            "A folder article deleted through the API",
            "stays deleted after a restart while its file holds the same text; a file changed "
            "since is synced again (the start-up log names it)",
            "`tests/kb/test_folder_sync.py::test_articles_deleted_through_the_api_stay_"
            "deleted_after_a_restart`",
        ),
    ]
    lines = [
        f"Written by `{command_line()}`. Paths shown for a data folder at `{DATA}`; the "
        "messages are generated from `app/storage.py`, so they are the ones served.",
        "",
        "| failure | what the operator sees | shown by |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "/readyz with a full disk (other fields as when ready):",
        "",
        "```json",
        json.dumps(ready, indent=2),
        "```",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write docs/SECURITY.md")
    args = parser.parse_args()
    text = section()
    print(text)
    if args.write:
        write_doc_section("failures", text, path=SECURITY)


if __name__ == "__main__":
    main()
