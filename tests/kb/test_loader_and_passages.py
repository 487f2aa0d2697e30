"""Knowledge-base files: parsing, validation that names file and field, and passages."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.kb.loader import KbFormatError, load_folder
from app.kb.passages import article_passages, body_chunks, plain_text
from tests.conftest import SHIPPED_KB


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_knowledge_base_is_valid_and_covers_the_store() -> None:
    articles = load_folder(SHIPPED_KB)
    assert len(articles) >= 40
    assert len({a.title for a in articles}) == len(articles)
    tags = {t for a in articles for t in a.tags}
    for topic in ("orders", "shipping", "returns", "refunds", "payments", "account"):
        assert topic in tags
    for topic in ("passwords", "warranty", "privacy", "contact"):
        assert topic in tags
    assert all(a.questions for a in articles)


def test_article_fields_are_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "billing/Card-Fees.md",
        "---\ntitle: '  Do you charge   card fees? '\nquestions: [fees?, fees?, 'surcharge']\n"
        "tags: [Payments]\nowner: finance\n---\n\nNo, never.\n",
    )
    (article,) = load_folder(tmp_path)
    assert article.slug == "billing/card-fees"
    assert article.title == "Do you charge card fees?"
    assert article.questions == ("fees?", "surcharge")
    assert article.tags == ("payments",)
    assert article.body == "No, never."
    assert article.extra == {"owner": "finance"}


def test_content_hash_follows_content(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.md", "---\ntitle: A\n---\nbody one\n")
    first = load_folder(tmp_path)[0].content_hash
    assert load_folder(tmp_path)[0].content_hash == first
    path.write_text("---\ntitle: A\n---\nbody two\n", encoding="utf-8")
    assert load_folder(tmp_path)[0].content_hash != first


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("---\nquestions: [a]\n---\nbody\n", "title: required"),
        ("---\ntitle: ''\n---\nbody\n", "title: required"),
        ("---\ntitle: T\n---\n\n", "body: empty"),
        ("---\ntitle: T\nquestions: 5\n---\nbody\n", "questions: must be a list"),
        ("---\ntitle: T\nquestions: ['ok', '']\n---\nbody\n", "questions[1]"),
        ("---\ntitle: [unclosed\n---\nbody\n", "front matter: not valid YAML"),
    ],
    ids=["no-title", "empty-title", "empty-body", "questions-not-list", "blank-question", "yaml"],
)
def test_problems_name_the_file_and_field(tmp_path: Path, text: str, problem: str) -> None:
    _write(tmp_path, "good.md", "---\ntitle: Fine\n---\nbody\n")
    bad = _write(tmp_path, "bad.md", text)
    with pytest.raises(KbFormatError) as caught:
        load_folder(tmp_path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(str(bad))
    assert problem in caught.value.problems[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", "---\ntags: x\n---\n\n")
    _write(tmp_path, "b.md", "no front matter at all\n")
    with pytest.raises(KbFormatError) as caught:
        load_folder(tmp_path)
    found = [p.rsplit("/", 1)[-1].split(" (")[0] for p in caught.value.problems]
    assert found == ["a.md: title: required", "a.md: body: empty", "b.md: title: required"]


def test_missing_folder_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(KbFormatError, match="SWITCHBOARD_KB_DIR"):
        load_folder(tmp_path / "nope")


def test_plain_text_strips_markdown() -> None:
    markdown = "## Steps\n\n1. Open **Account** > [Orders](/orders)\n- `code` here"
    assert plain_text(markdown).split() == ["Steps", "Open", "Account", "Orders", "code", "here"]


def test_body_is_chunked_by_paragraphs_within_the_word_limit() -> None:
    body = "one two three\n\nfour five\n\n" + " ".join(f"w{i}" for i in range(7))
    chunks = body_chunks(body, max_words=5)
    assert chunks == ["one two three four five", "w0 w1 w2 w3 w4", "w5 w6"]
    assert all(len(c.split()) <= 5 for c in chunks)


def test_passages_are_title_questions_then_chunks() -> None:
    passages = article_passages("Title", "Body text.", ["q1", "q2"], max_words=50)
    assert [(p.kind, p.text) for p in passages] == [
        ("title", "Title"),
        ("question", "q1"),
        ("question", "q2"),
        ("chunk", "Body text."),
    ]


def test_names_that_differ_only_in_case_are_reported(tmp_path: Path) -> None:
    _write(tmp_path, "faq.md", "---\ntitle: One\n---\nbody\n")
    _write(tmp_path, "FAQ.MD", "---\ntitle: Two\n---\nbody\n")
    with pytest.raises(KbFormatError, match="same article name"):
        load_folder(tmp_path)


def test_upper_case_extension_is_read(tmp_path: Path) -> None:
    _write(tmp_path, "Shipping.MD", "---\ntitle: Shipping\n---\nbody\n")
    assert [a.slug for a in load_folder(tmp_path)] == ["shipping"]
