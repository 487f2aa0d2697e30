"""Served intent accuracy: labelled intent sets sent through `POST /messages` of the real service.

    python scripts/eval_served.py [--sets banking77,clinc150,banking77_oos] [--limit N] [--write]

For each set it builds, in a temporary folder, an intents folder from the train split (one YAML
intent per label: its training examples and a reply action, nothing else) and an empty
knowledge base, starts `python -m app serve` on loopback with a fresh data folder
(`scripts/servicekit.py`; rate limits off), and sends every test message as the first message
of a new conversation over HTTP, `--concurrency` at a time. Each reply is classified:

- in-scope rows: **routed-right** (the reply's intent is the label), **routed-wrong** (another
  intent), **asked-back** (a clarify, or no intent), **handed off** (to a person);
- out-of-scope rows: **rejected** (no intent routed) or **routed** (some intent ran).

Beside each set it prints the classifier alone on the same split (`python -m app eval
intents`, run as a subprocess) so that the gap between what the classifier knows and what the
product does is visible. `--write` puts the table, the date and the commands into the
`served` section of docs/EVALUATION.md. The datasets are read in place (`--datasets`); nothing
derived from them is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.evalkit import (  # noqa: E402
    Labelled,
    add_datasets_option,
    load_banking77_oos,
    load_clinc150,
    markdown_table,
    require_dir,
)
from scripts.reportkit import EVALUATION, publish, ran_on  # noqa: E402
from scripts.servicekit import free_port, start_server, stop_server  # noqa: E402

OOS = "oos"
SETS = ("banking77", "clinc150", "banking77_oos")
START_TIMEOUT = 1800.0  # seconds for the service to encode and fit the intents at start
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class LabelledSet:
    """One evaluation set: the examples the intents are made of, and the rows sent."""

    name: str
    train: Labelled
    test: Labelled
    val: Labelled | None = None  # the split the classifier-only figure chooses its threshold on


@dataclass
class Tally:
    """Outcomes of the rows of one set sent through the API."""

    in_scope: Counter[str] = field(default_factory=Counter)  # right / wrong / asked / handoff
    out_of_scope: Counter[str] = field(default_factory=Counter)  # rejected / routed
    reasons: Counter[str] = field(default_factory=Counter)  # kind:reason of misses
    seconds: float = 0.0

    def share(self, part: str, oos: bool = False) -> float:
        counts = self.out_of_scope if oos else self.in_scope
        total = sum(counts.values())
        return counts[part] / total if total else float("nan")


def _read_csv(path: Path, text: str, label: str) -> Labelled:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row[text], row[label]) for row in csv.DictReader(handle)]


def load_sets(datasets: Path, names: Sequence[str]) -> list[LabelledSet]:
    """The requested sets from the shared datasets folder."""
    found = []
    for name in names:
        if name == "banking77":
            folder = require_dir(datasets / "banking77")
            found.append(
                LabelledSet(
                    name,
                    _read_csv(folder / "train.csv", "text", "category"),
                    _read_csv(folder / "test.csv", "text", "category"),
                )
            )
        elif name == "clinc150":
            clinc = load_clinc150(require_dir(datasets / "clinc150"))
            found.append(
                LabelledSet(
                    name,
                    clinc["train"],
                    clinc["test"] + clinc["oos_test"],
                    clinc["val"] + clinc["oos_val"],
                )
            )
        elif name == "banking77_oos":
            parts = load_banking77_oos(require_dir(datasets / "banking77_oos"))
            found.append(LabelledSet(name, parts["train"], parts["test"] + parts["id_oos_test"]))
        else:
            raise SystemExit(f"unknown set {name!r}; choose from {', '.join(SETS)}")
    return found


def intent_name(label: str) -> str:
    """The intent name a label becomes (names are lower_snake_case)."""
    return _NOT_NAME.sub("_", label.lower()).strip("_")


def write_intents(train: Labelled, folder: Path) -> None:
    """One YAML intent per label of `train`: its examples and a reply action."""
    folder.mkdir(parents=True, exist_ok=True)
    by_name: dict[str, list[str]] = {}
    for text, label in train:
        if label != OOS and text.strip():  # BANKING77-OOS train has a few blank lines
            by_name.setdefault(intent_name(label), []).append(text)
    for name, examples in sorted(by_name.items()):
        intent = {"name": name, "examples": examples, "reply": f"Intent {name}."}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(intent), encoding="utf-8")


def classify(reply: dict, label: str) -> tuple[str, str]:
    """The outcome of one reply for a row labelled `label`, and the reply's kind:reason."""
    intent = reply.get("intent")
    why = f"{reply['kind']}:{reply.get('handoff_reason') or reply['reason']}"
    if label == OOS:
        return ("routed" if intent else "rejected"), why
    if intent == intent_name(label):
        return "right", why
    if intent:
        return "wrong", why
    return ("handoff" if reply["kind"] == "handoff" else "asked"), why


async def send_all(
    url: str, rows: Labelled, concurrency: int, dump: list[dict] | None = None
) -> Tally:
    """Send each row as the first message of a new conversation; tally the replies (and, with
    `dump`, keep each row's reply there)."""
    tally = Tally()
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for row in rows:
        queue.put_nowait(row)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            text, label = queue.get_nowait()
            opened = await client.post("/api/v1/conversations")
            opened.raise_for_status()
            body = opened.json()
            response = await client.post(
                f"/api/v1/conversations/{body['id']}/messages",
                json={"text": text},
                headers={"Authorization": f"Bearer {body['token']}"},
            )
            response.raise_for_status()
            reply = response.json()["reply"]
            outcome, why = classify(reply, label)
            if dump is not None:
                dump.append({"text": text, "label": label, "outcome": outcome, "reply": reply})
            if label == OOS:
                tally.out_of_scope[outcome] += 1
            else:
                tally.in_scope[outcome] += 1
            if outcome not in ("right", "rejected"):
                tally.reasons[why] += 1

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    tally.seconds = time.perf_counter() - began
    return tally


def _write_csv(path: Path, rows: Labelled) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((t, lab) for t, lab in rows if t.strip())


def classifier_only(labelled: LabelledSet, folder: Path) -> dict:
    """`python -m app eval intents` on the same splits (its JSON report)."""
    train, test, out = folder / "train.csv", folder / "test.csv", folder / "report.json"
    _write_csv(train, labelled.train)
    _write_csv(test, labelled.test)
    command = [sys.executable, "-m", "app", "eval", "intents", "--train", str(train)]
    command += ["--test", str(test), "--out", str(out)]
    if any(label == OOS for _, label in labelled.test):
        command += ["--oos-label", OOS]
    if labelled.val is not None:
        val = folder / "val.csv"
        _write_csv(val, labelled.val)
        command += ["--val", str(val)]
    subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    return dict(json.loads(out.read_text(encoding="utf-8")))


def served(
    labelled: LabelledSet, folder: Path, concurrency: int, dump: list[dict] | None = None
) -> Tally:
    """The set sent through the API of a service whose intents are the train split's."""
    intents, kb = folder / "intents", folder / "kb"
    write_intents(labelled.train, intents)
    kb.mkdir()
    env = {
        "SWITCHBOARD_INTENTS_DIR": str(intents),
        "SWITCHBOARD_KB_DIR": str(kb),
        "SWITCHBOARD_RATE_LIMITS__ENABLED": "false",
    }
    data, port = folder / "data", free_port()
    # Fitting thousands of examples at start takes minutes on a shared 2-core machine.
    process, _, _ = start_server(data, port, timeout=START_TIMEOUT, env_overrides=env)
    try:
        return asyncio.run(send_all(f"http://127.0.0.1:{port}", labelled.test, concurrency, dump))
    finally:
        stop_server(process)


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated sets to run")
    parser.add_argument("--limit", type=int, default=0, help="send only the first N test rows")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--no-classifier", action="store_true", help="skip the classifier run")
    parser.add_argument("--write", action="store_true", help="write docs/EVALUATION.md")
    parser.add_argument(
        "--dump", type=Path, help="write every row's reply as JSON lines to DIR/<set>.jsonl"
    )
    args = parser.parse_args()

    sets = load_sets(args.datasets, [s.strip() for s in args.sets.split(",") if s.strip()])
    rows = []
    misses = []
    for labelled in sets:
        if args.limit:
            labelled = LabelledSet(
                labelled.name, labelled.train, labelled.test[: args.limit], labelled.val
            )
        with tempfile.TemporaryDirectory(prefix="eval-served-") as tmp:
            dump: list[dict] | None = [] if args.dump else None
            tally = served(labelled, Path(tmp), args.concurrency, dump)
            if args.dump and dump is not None:
                args.dump.mkdir(parents=True, exist_ok=True)
                lines = (json.dumps(row, ensure_ascii=False) for row in dump)
                (args.dump / f"{labelled.name}.jsonl").write_text(
                    "\n".join(lines) + "\n", encoding="utf-8"
                )
            report = {} if args.no_classifier else classifier_only(labelled, Path(tmp))
        print(f"{labelled.name}: {dict(tally.in_scope)} {dict(tally.out_of_scope)}")
        print(f"  misses by reply kind:reason: {tally.reasons.most_common(8)}")
        total = sum(tally.in_scope.values()) + sum(tally.out_of_scope.values())
        common = ", ".join(
            f"`{why}` {100 * count / total:.1f}%" for why, count in tally.reasons.most_common(4)
        )
        misses.append(f"- {labelled.name}: {common}")
        rows.append(
            (
                labelled.name,
                f"{sum(tally.in_scope.values())} + {sum(tally.out_of_scope.values())}",
                f"**{_pct(tally.share('right'))}**",
                _pct(tally.share("wrong")),
                _pct(tally.share("asked")),
                _pct(tally.share("handoff")),
                _pct(tally.share("rejected", oos=True)) if tally.out_of_scope else "n/a",
                _pct(report.get("in_scope_accuracy")),
                _pct(report.get("accuracy_without_rejection")),
                _pct(report.get("oos_recall")),
                f"{tally.seconds:.0f}",
            )
        )
    table = markdown_table(
        (
            "set",
            "rows (in scope + OOS)",
            "routed-right",
            "routed-wrong",
            "asked-back",
            "handed off",
            "OOS rejected",
            "classifier alone: in-scope acc",
            "classifier: no rejection",
            "classifier: OOS recall",
            "API s",
        ),
        rows,
    )
    text = f"""## Served intent accuracy (`scripts/eval_served.py`)

Each test message sent as the first message of a new conversation through `POST
/api/v1/conversations/{{id}}/messages` of the real service (`python -m app serve`, fresh data
folder, empty knowledge base, one intent per label made of its train examples with a reply
action; {args.concurrency} requests in flight). Routed-right: the reply's intent is the label;
routed-wrong: another intent ran; asked-back: a clarify (or "did you mean"); handed off: to a
person. OOS rejected: an out-of-scope row that ran no intent. The classifier-alone columns are
`python -m app eval intents` on the same splits (CLINC150: threshold chosen on val). Sets:
BANKING77 (train / test), CLINC150 full (train / test + oos_test), BANKING77-OOS (train / test
+ in-domain OOS test: its OOS rejected is the in-domain out-of-scope recall).

{ran_on()}

{table}

Replies other than routed-right (in scope) or rejected (out of scope), by reply kind and
reason, as a share of the set's rows:

{chr(10).join(misses)}
"""
    publish(text, "served", write=args.write, path=EVALUATION)


if __name__ == "__main__":
    main()
