"""Measures the built-in request-for-a-person model and small talk, alone and through the API.

Requests for a person (`app/nlp/human_request.py`), on three sets of our own
(`app/nlp/data/`, written for the project): the model is fitted on the `train` rows of
`human_requests.csv`, the threshold is chosen on its `calibrate` rows (the centre of the
thresholds on a 0.05 grid that maximise recall minus false-fire rate there), and
`human_requests_heldout.csv`, phrasings never fitted or tuned on, is only reported. For each
set: recall (requests that fire) and false fires (other messages that fire), for the model at
the policy's default threshold, the built-in patterns alone, and both; then **served**: each
message as the first message of a new conversation through `POST /messages` of an app with the
shipped intents and of one with no intents at all (KB only), a fire being a handoff with reason
`explicit_request`.

Small talk (`app/intents/smalltalk.py`), on `smalltalk.csv` (tune: `VECTOR_SIMILARITY` was
chosen there, `--tune` prints its grid) and `smalltalk_heldout.csv` (never tuned on): accuracy
of the act (a message that is not small talk must get none), and served, whether the reply's
kind is `smalltalk` with the right act for small talk and anything else for the rest, with the
shipped intents and with none. Last, what reading both adds to a turn, next to the bare
encode of the same message.

Run from the repo root: `.venv/bin/python scripts/eval_human_requests.py [--write] [--tune]`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from app.config import Settings  # noqa: E402
from app.intents.builtin import asks_for_human  # noqa: E402
from app.intents.definitions import IntentCatalog  # noqa: E402
from app.intents.smalltalk import SmallTalk  # noqa: E402
from app.main import create_app  # noqa: E402
from app.nlp.embedder import Embedder  # noqa: E402
from app.nlp.human_request import (  # noqa: E402
    DATA,
    HELD_OUT_FILE,
    TRAINING_FILE,
    HumanRequestModel,
    read_rows,
)
from app.policy.settings import DEFAULT_HUMAN_REQUEST_THRESHOLD  # noqa: E402
from scripts.evalkit import fmt, load_embedder, markdown_table  # noqa: E402
from scripts.reportkit import publish, ran_on  # noqa: E402

SMALLTALK_TUNE = DATA / "smalltalk.csv"
SMALLTALK_HELD_OUT = DATA / "smalltalk_heldout.csv"
GRID = [round(0.05 * i, 2) for i in range(1, 20)]
SECTION = "human_requests"
Rows = list[tuple[str, bool]]


def choose_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The centre of the grid thresholds maximising recall minus false-fire rate."""
    gains = [float((scores[truth] >= t).mean() - (scores[~truth] >= t).mean()) for t in GRID]
    best = max(gains)
    tied = [t for t, g in zip(GRID, gains, strict=True) if g >= best - 1e-12]
    return min(GRID, key=lambda t: abs(t - (tied[0] + tied[-1]) / 2))


def rates(fired: Sequence[bool], truth: Sequence[bool]) -> tuple[float, float, int, int]:
    """Recall, false-fire rate, and the counts of requests and other messages."""
    f, y = np.asarray(fired, dtype=bool), np.asarray(truth, dtype=bool)
    return float(f[y].mean()), float(f[~y].mean()), int(y.sum()), int((~y).sum())


def smalltalk_rows(path: Path) -> list[tuple[str, str | None]]:
    """(text, act or None) rows of a small-talk file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (r["text"], None if r["act"] == "none" else r["act"]) for r in csv.DictReader(handle)
        ]


async def served(
    embedder: Embedder, intents_dir: Path, texts: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The bot's reply to each text as the first message of a new conversation, through the
    API of an app with `intents_dir` and the shipped knowledge base."""
    from asgi_lifespan import LifespanManager

    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data),
            kb_dir=REPO_ROOT / "knowledge_base",
            intents_dir=intents_dir,
            integrations={"orders": {"base_url": "http://127.0.0.1:9"}},
            rate_limits={"enabled": False},
        )
        app = create_app(settings, embedder=embedder)
        replies = {}
        async with (
            LifespanManager(app, startup_timeout=300) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://eval"
            ) as client,
        ):
            for text in texts:
                opened = (await client.post("/api/v1/conversations")).json()
                response = await client.post(
                    f"/api/v1/conversations/{opened['id']}/messages",
                    json={"text": text},
                    headers={"Authorization": f"Bearer {opened['token']}"},
                )
                response.raise_for_status()
                replies[text] = response.json()["reply"]
        return replies


Served = dict[str, dict[str, dict[str, Any]]]  # app -> text -> reply


def human_section(embedder: Embedder, replies: Served) -> str:
    sets = {
        "train (fitted on)": read_rows(TRAINING_FILE, "train"),
        "calibrate (threshold)": read_rows(TRAINING_FILE, "calibrate"),
        "held out": read_rows(HELD_OUT_FILE),
    }
    train = sets["train (fitted on)"]
    model = HumanRequestModel.fit(
        embedder.encode([t for t, _ in train]), [t for t, _ in train], [y for _, y in train]
    )
    scores = {}
    for name, rows in sets.items():
        texts = [t for t, _ in rows]
        scores[name] = model.score_many(texts, embedder.encode(texts))
    calibrate = sets["calibrate (threshold)"]
    chosen = choose_threshold(scores["calibrate (threshold)"], np.array([y for _, y in calibrate]))
    threshold = DEFAULT_HUMAN_REQUEST_THRESHOLD
    table = []
    for name, rows in sets.items():
        truth = [y for _, y in rows]
        patterns = [asks_for_human(t) for t, _ in rows]
        model_fires = list(scores[name] >= threshold)
        variants: dict[str, Sequence[bool]] = {
            "model": model_fires,
            "patterns": patterns,
            "model or patterns": [a or b for a, b in zip(model_fires, patterns, strict=True)],
        }
        for app_name, seen in replies.items():
            variants[f"served, {app_name}"] = [
                seen[t]["kind"] == "handoff" and seen[t]["handoff_reason"] == "explicit_request"
                for t, _ in rows
            ]
        for what, fired in variants.items():
            recall, false, positives, negatives = rates(fired, truth)
            table.append([name, what, f"{positives}", fmt(recall), f"{negatives}", fmt(false)])
    headers = ["set", "recogniser", "requests", "recall", "other", "false fires"]
    return (
        f"Threshold {threshold} (the policy's default, `human_request_threshold`); chosen on the "
        f"calibrate rows: {chosen}. Served = through `POST /messages`, first message of a new "
        "conversation, a fire = handoff `explicit_request`, with the policy's defaults (the "
        "patterns off: they added no recall and some false fires).\n\n"
        + markdown_table(headers, table)
    )


def smalltalk_section(embedder: Embedder, replies: Served, tune: bool) -> str:
    async def encode(texts: list[str]) -> np.ndarray:
        return embedder.encode(texts)

    recogniser = asyncio.run(SmallTalk.start(IntentCatalog({}), encode))
    table = []
    for name, path in (("tune", SMALLTALK_TUNE), ("held out", SMALLTALK_HELD_OUT)):
        rows = smalltalk_rows(path)
        texts = [t for t, _ in rows]
        truth = [a for _, a in rows]
        vectors = embedder.encode(texts)
        if tune and name == "tune":
            from app.intents import smalltalk

            for level in (0.75, 0.8, 0.85, 0.9, 0.95, 1.01):
                smalltalk.VECTOR_SIMILARITY = level
                found = recogniser.read_many(texts, vectors)
                right = np.mean([f == a for f, a in zip(found, truth, strict=True)])
                print(f"vector similarity {level}: act accuracy {right:.3f}")
        found = recogniser.read_many(texts, vectors)
        variants = {"recogniser": found}
        for app_name, seen in replies.items():
            variants[f"served, {app_name}"] = [
                seen[t]["intent"] if seen[t]["kind"] == "smalltalk" else None for t in texts
            ]
        talk = [a is not None for a in truth]
        for what, acts in variants.items():
            right = [f == a for f, a in zip(acts, truth, strict=True)]
            hit = np.mean([r for r, t in zip(right, talk, strict=True) if t])
            kept = np.mean([r for r, t in zip(right, talk, strict=True) if not t])
            table.append(
                [
                    name,
                    what,
                    f"{sum(talk)}",
                    fmt(float(hit)),
                    f"{len(talk) - sum(talk)}",
                    fmt(float(kept)),
                ]
            )
    headers = ["set", "recogniser", "small talk", "right act", "other", "not small talk"]
    return markdown_table(headers, table)


def cost_line(embedder: Embedder) -> str:
    """What reading small talk and the request model adds to a turn, next to the bare encode
    of the same message (medians over interleaved repetitions, one message at a time)."""
    train = read_rows(TRAINING_FILE, "train")
    texts = [t for t, _ in train]
    model = HumanRequestModel.fit(embedder.encode(texts), texts, [y for _, y in train])

    async def encode(batch: list[str]) -> np.ndarray:
        return embedder.encode(batch)

    talk = asyncio.run(SmallTalk.start(IntentCatalog({}), encode))
    message = ["hi, can I speak to someone about my refund?"]
    encode_s, read_s = [], []
    for _ in range(200):
        began = time.perf_counter()
        vector = embedder.encode(message)
        encode_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        talk.read_many(message, vector)
        model.score_many(message, vector)
        read_s.append(time.perf_counter() - began)
    encode_ms, read_ms = 1000 * np.median(encode_s), 1000 * np.median(read_s)
    return (
        f"Cost per message (no encoder call added): small talk + request model {read_ms:.3f} ms "
        f"median, against {encode_ms:.2f} ms for the bare encode of the same message "
        f"({100 * read_ms / encode_ms:.1f}%)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write docs/EVALUATION.md")
    parser.add_argument("--tune", action="store_true", help="print the small-talk vector grid")
    args = parser.parse_args()
    began = time.perf_counter()
    embedder = load_embedder()
    with tempfile.TemporaryDirectory() as empty:
        apps = {"shipped intents": REPO_ROOT / "intents", "no intents (KB only)": Path(empty)}
        texts = [t for t, _ in read_rows(TRAINING_FILE) + read_rows(HELD_OUT_FILE)]
        texts += [
            t for path in (SMALLTALK_TUNE, SMALLTALK_HELD_OUT) for t, _ in smalltalk_rows(path)
        ]
        replies = {
            name: asyncio.run(served(embedder, folder, sorted(set(texts))))
            for name, folder in apps.items()
        }
        human = human_section(embedder, replies)
        talk = smalltalk_section(embedder, replies, args.tune)
    text = (
        "### Requests for a person and small talk\n\n"
        f"{ran_on()}; {time.perf_counter() - began:.0f} s.\n\n"
        "Requests for a person: recall = requests that hand off `explicit_request`; false fires "
        "= other messages (mentions of people, questions about the bot, ordinary questions) "
        "that do.\n\n"
        f"{human}\n\n"
        "Small talk: right act = small-talk messages read as their act; not small talk = other "
        "messages (a greeting with a question, follow-ups, requests) not read as small talk.\n\n"
        f"{talk}\n\n"
        f"{cost_line(embedder)}\n"
    )
    publish(text, SECTION, write=args.write, path=REPO_ROOT / "docs" / "EVALUATION.md")


if __name__ == "__main__":
    main()
