"""Write the shared evaluation datasets as plain `text,label` CSV files for `python -m app eval`.

    python scripts/export_eval_csv.py [--datasets ../shared/datasets] [--out data/eval]

Files written (nothing is copied into the repo: `data/` is ignored by git):
- `clinc150_{train,val,test}.csv`: the full CLINC150 splits, out-of-scope rows labelled `oos`
  (train and val include `oos_train` / `oos_val`);
- `banking77_{train,test}.csv`;
- `banking77_oos_{train,valid,test}.csv`: 50 in-scope intents; `test` also holds the ID-OOS and
  OOD-OOS test rows labelled `oos`; `banking77_oos_id_oos_test.csv` holds the ID-OOS rows alone;
- `bitext_{train,dev,test}.csv`: Bitext customer-service intents;
- `bitext_faq/<intent>.md` and `bitext_faq_{dev,test}.csv`: a store FAQ made from Bitext, in the
  product's knowledge-base format, and its questions (see `export_bitext_faq`);
- `tweeteval_sentiment_{val,test}.csv`: labels `negative`, `neutral`, `positive`.

The Bitext data is under CDLA-Sharing-1.0: what is derived from it stays in `data/` (not shipped).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.evalkit import (  # noqa: E402
    Labelled,
    add_datasets_option,
    load_banking77_oos,
    load_clinc150,
    read_lines,
    require_dir,
)

TWEETEVAL_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
BITEXT_RESPONSES = "llm_chatbot_responses/Bitext_Sample_Customer_Support_Training_Dataset.csv"
FAQ_QUESTIONS = 5  # example utterances per article, drawn from intent_detection/train.csv
FAQ_SEED = 0
# Placeholders of the Bitext responses ({{Name}}) that read better as plain words; any other
# placeholder names a button or page of the store and is kept as bold text.
PLACEHOLDER_WORDS = {
    "website name": "website",
    "website url": "website",
    "website": "website",
    "website or app": "website or app",
    "company name": "our company",
    "live chat": "live chat",
    "customer support phone number": "customer support phone line",
    "customer service phone number": "customer support phone line",
    "support phone number": "customer support phone line",
    "customer support email": "customer support email address",
    "customer support email address": "customer support email address",
    "customer support availability": "during business hours",
    "customer support hours": "during business hours",
    "customer service hours": "during business hours",
    "number of days": "a few days",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def write_csv(path: Path, rows: Labelled) -> None:
    """Write `(text, label)` rows with a `text,label` header; rows with a blank text (a few
    source files have empty lines) are left out and counted."""
    kept = [(text, label) for text, label in rows if text.strip()]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(kept)
    dropped = f" ({len(rows) - len(kept)} blank left out)" if len(kept) < len(rows) else ""
    print(f"{path}  {len(kept):>6} rows{dropped}")


def read_csv_columns(path: Path, text: str, label: str) -> Labelled:
    """Two named columns of a CSV file with a header."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row[text], row[label]) for row in csv.DictReader(handle)]


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a CSV file with a header, as a dict."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def normalise(text: str) -> str:
    """`text` for near-duplicate checks: lower case, runs of non-alphanumerics as one space."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def humanise(response: str) -> str:
    """A Bitext response with its `{{placeholders}}` as words (`PLACEHOLDER_WORDS`), anonymised
    IDs as "[order number]" and any other placeholder (a button or page name) in bold."""

    def word(match: re.Match[str]) -> str:
        name = " ".join(match.group(1).split())
        key = name.lower()
        if key in PLACEHOLDER_WORDS:
            return PLACEHOLDER_WORDS[key]
        if key.endswith(" anonymized"):
            return f"[{key.removesuffix(' anonymized')}]"
        return f"**{name}**"

    return _PLACEHOLDER.sub(word, response).strip()


def typical_response(rows: list[dict[str, str]]) -> dict[str, str]:
    """The most typical row of one intent: highest TF-IDF cosine to the intent's mean response.

    Rows whose response repeats the row's own entity (an order number, a name) are passed over
    when any other row is left, so the body reads as a general answer.
    """
    general = [
        r
        for r in rows
        if not r["entity_value"] or r["entity_value"].lower() not in r["response"].lower()
    ]
    candidates = general or rows
    vectors = TfidfVectorizer(sublinear_tf=True).fit_transform(r["response"] for r in candidates)
    centroid = np.asarray(vectors.mean(axis=0)).ravel()
    similarity = vectors @ centroid / (np.linalg.norm(centroid) or 1.0)
    return candidates[int(np.argmax(similarity))]  # ties: the first in file order


def faq_title(intent: str) -> str:
    """A readable title from an intent name: `check_invoice` -> "Check invoice"."""
    return intent.replace("_", " ").capitalize()


def faq_article(title: str, questions: list[str], body: str) -> str:
    """One knowledge-base article file: YAML front matter, then the Markdown body."""
    meta = yaml.safe_dump(
        {"title": title, "questions": questions, "tags": ["bitext"]},
        sort_keys=False,
        allow_unicode=True,
        width=1000,
    )
    return f"---\n{meta}---\n{body}\n"


def leakage_counts(name: str, texts: list[str], held_out: dict[str, list[str]]) -> None:
    """Print how many of `texts` occur in each held-out split, exactly and once normalised."""
    exact = set(texts)
    loose = {normalise(t) for t in texts}
    for split, utterances in held_out.items():
        same = sum(u in exact for u in utterances)
        near = sum(normalise(u) in loose for u in utterances)
        print(f"  leakage {name} -> {split}: {same} exact, {near} after normalising")


def bitext_splits(bitext: Path) -> dict[str, list[dict[str, str]]]:
    """The rows of `intent_detection/{train,dev,test}.csv` under the Bitext folder."""
    return {
        split: read_csv_rows(bitext / "intent_detection" / f"{split}.csv")
        for split in ("train", "dev", "test")
    }


def question_pools(split_rows: dict[str, list[dict[str, str]]]) -> dict[str, list[str]]:
    """Per intent, the train utterances (file order) that may become article questions: those
    equal to no dev or test utterance once normalised."""
    held_out = {normalise(r["utterance"]) for s in ("dev", "test") for r in split_rows[s]}
    pools: dict[str, list[str]] = defaultdict(list)
    for row in split_rows["train"]:
        if normalise(row["utterance"]) not in held_out:
            pools[row["intent"]].append(row["utterance"])
    return dict(pools)


def draw_questions(pools: dict[str, list[str]], count: int, seed: int) -> dict[str, list[str]]:
    """`count` questions per intent drawn with one `random.Random(seed)`, intents in sorted
    order."""
    rng = random.Random(seed)
    return {intent: rng.sample(pools[intent], count) for intent in sorted(pools)}


def export_bitext_faq(bitext: Path, out: Path) -> None:
    """A store FAQ from Bitext, one article per intent, and its dev/test questions.

    - `bitext_faq/<intent>.md`: title from the intent name (`faq_title`); body = the intent's
      most typical response in `llm_chatbot_responses` (`typical_response`), placeholders made
      readable (`humanise`); `questions` = FAQ_QUESTIONS utterances of the intent drawn from
      `intent_detection/train.csv` with `random.Random(FAQ_SEED)` (intents in sorted order,
      utterances in file order), leaving out any that equals a dev or test utterance once
      normalised.
    - `bitext_faq_{dev,test}.csv`: `intent_detection/{dev,test}.csv` as text,label with
      label = the intent = the article's slug.

    Prints the leakage checks: train utterances and response-set instructions against dev and
    test, exact and normalised, and what the FAQ itself holds of dev and test.
    """
    folder = out / "bitext_faq"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.md"):
        stale.unlink()
    split_rows = bitext_splits(bitext)
    responses = read_csv_rows(bitext / BITEXT_RESPONSES)
    held_out = {s: [r["utterance"] for r in split_rows[s]] for s in ("dev", "test")}
    by_intent = question_pools(split_rows)
    responses_by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in responses:
        responses_by_intent[row["intent"]].append(row)
    if set(by_intent) != set(responses_by_intent):
        raise SystemExit("bitext: the intent and response files name different intents")

    drawn = draw_questions(by_intent, FAQ_QUESTIONS, FAQ_SEED)
    used_questions: list[str] = []
    used_sources: list[str] = []
    bodies: list[str] = []
    for intent, questions in drawn.items():
        source = typical_response(responses_by_intent[intent])
        body = humanise(source["response"])
        (folder / f"{intent}.md").write_text(
            faq_article(faq_title(intent), questions, body), encoding="utf-8"
        )
        used_questions += questions
        used_sources.append(source["instruction"])
        bodies.append(normalise(body))
    (folder / "README.md").write_text(
        "Generated by scripts/export_eval_csv.py from the Bitext customer-service datasets\n"
        "(CDLA-Sharing-1.0, (c) Bitext Innovations 2022). Evaluation data: do not ship.\n",
        encoding="utf-8",
    )
    print(f"{folder}/  {len(by_intent):>6} articles")
    for split in ("dev", "test"):
        rows = [(r["utterance"], r["intent"]) for r in split_rows[split]]
        write_csv(out / f"bitext_faq_{split}.csv", rows)

    train_utterances = [r["utterance"] for r in split_rows["train"]]
    leakage_counts("intent_detection train", train_utterances, held_out)
    leakage_counts(
        "llm_chatbot_responses instructions", [r["instruction"] for r in responses], held_out
    )
    leakage_counts("FAQ questions", used_questions, held_out)
    leakage_counts("FAQ body source instructions", used_sources, held_out)
    for split, utterances in held_out.items():
        inside = sum(any(normalise(u) in body for body in bodies) for u in utterances)
        print(f"  leakage FAQ bodies -> {split}: {inside} utterances appear inside a body")


def export(datasets: Path, out: Path) -> None:
    """Write every CSV file listed in the module docstring into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    clinc = load_clinc150(require_dir(datasets / "clinc150"))
    write_csv(out / "clinc150_train.csv", clinc["train"] + clinc["oos_train"])
    write_csv(out / "clinc150_val.csv", clinc["val"] + clinc["oos_val"])
    write_csv(out / "clinc150_test.csv", clinc["test"] + clinc["oos_test"])

    banking = require_dir(datasets / "banking77")
    for split in ("train", "test"):
        rows = read_csv_columns(banking / f"{split}.csv", "text", "category")
        write_csv(out / f"banking77_{split}.csv", rows)

    oos = load_banking77_oos(require_dir(datasets / "banking77_oos"))
    write_csv(out / "banking77_oos_train.csv", oos["train"])
    write_csv(out / "banking77_oos_valid.csv", oos["valid"])
    every_oos = oos["id_oos_test"] + oos["ood_oos_test"]
    write_csv(out / "banking77_oos_test.csv", oos["test"] + every_oos)
    write_csv(out / "banking77_oos_id_oos_test.csv", oos["test"] + oos["id_oos_test"])

    bitext = require_dir(datasets / "bitext_customer_support" / "intent_detection")
    for split in ("train", "dev", "test"):
        rows = read_csv_columns(bitext / f"{split}.csv", "utterance", "intent")
        write_csv(out / f"bitext_{split}.csv", rows)
    export_bitext_faq(bitext.parent, out)

    tweets = require_dir(datasets / "tweeteval_sentiment")
    for split in ("val", "test"):
        texts = read_lines(tweets / f"{split}_text.txt")
        labels = [TWEETEVAL_LABELS[v] for v in read_lines(tweets / f"{split}_labels.txt")]
        write_csv(out / f"tweeteval_sentiment_{split}.csv", list(zip(texts, labels, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_datasets_option(parser)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "eval")
    args = parser.parse_args()
    export(args.datasets, args.out)


if __name__ == "__main__":
    main()
