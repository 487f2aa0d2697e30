"""Near-identical articles that differ by a code or a name: the customer who types the exact
code gets that article, not a question about which of the neighbours they meant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ask, open_conversation

# A knowledge base of its own, written for the test: a sync app's error codes and plans.
ERRORS = {
    "E401": "the sign-in token expired: sign out and sign in again",
    "E402": "the account was suspended: contact billing to reactivate it",
    "E403": "the folder is shared read-only: ask its owner for edit access",
}
PLANS = {
    "starter": "up to 3 devices and 50 GB",
    "studio": "up to 10 devices and 1 TB",
    "enterprise": "unlimited devices and storage",
}


def _write_kb(folder: Path) -> Path:
    folder.mkdir()
    for code, fix in ERRORS.items():
        (folder / f"sync-error-{code.lower()}.md").write_text(
            f"---\ntitle: Sync fails with error {code}\nquestions:\n"
            f"  - the app shows error {code} when syncing\n  - sync stopped with {code}\n"
            f"tags: [sync]\n---\nWhen syncing stops with error {code}, {fix}. Then start the "
            "sync again from the menu; your files are kept while sync is stopped.\n",
            encoding="utf-8",
        )
    for plan, limits in PLANS.items():
        (folder / f"{plan}-plan-limits.md").write_text(
            f"---\ntitle: What are the limits of the {plan.title()} plan?\nquestions:\n"
            f"  - {plan} plan storage\n  - how many devices on {plan}\ntags: [plans]\n---\n"
            f"The {plan.title()} plan covers {limits}. Limits apply per account and reset "
            "when you change plans.\n",
            encoding="utf-8",
        )
    return folder


async def test_the_exact_code_or_plan_name_decides(
    start_app: Callable[..., Any], tmp_path: Path
) -> None:
    kb = _write_kb(tmp_path / "kb")
    async with start_app(kb_dir=kb, intents_dir=tmp_path / "no-intents") as client:
        for question, expected in [
            ("what does E402 mean when I sync?", "Sync fails with error E402"),
            ("getting error e403 while syncing", "Sync fails with error E403"),
            (
                "how much storage do I get on the studio plan",
                "What are the limits of the Studio plan?",
            ),
        ]:
            opened = await open_conversation(client)
            reply = (await ask(client, opened, question)).json()["reply"]
            assert reply["kind"] == "answer", (question, reply)
            assert reply["sources"][0]["title"] == expected, (question, reply["sources"])
        # Without a code the neighbours stay a real question.
        opened = await open_conversation(client)
        reply = (await ask(client, opened, "sync fails with an error")).json()["reply"]
        assert reply["kind"] == "clarify", reply
