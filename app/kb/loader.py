"""Reads the knowledge-base folder: Markdown articles with YAML front matter, validated.

Front matter: `title` (required), `questions` (optional list of alternate phrasings), `tags`
(optional list). The body is Markdown. Errors name the file and the field to fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

MAX_TITLE_CHARS = 300
MAX_BODY_CHARS = 100_000
MAX_QUESTION_CHARS = 500


class KbFormatError(ValueError):
    """One or more articles are malformed; `problems` lists `file: field: what to fix`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid knowledge base:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ArticleIn:
    """A validated article as read from a file or an API payload."""

    slug: str
    title: str
    body: str
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def content_hash(self) -> str:
        """A digest of everything that changes how the article is found or read."""
        payload = json.dumps(
            [self.title, self.body, list(self.questions), list(self.tags)], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def _string_list(value: Any, where: str, name: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.append(f"{where}: {name}: must be a list of strings")
        return ()
    items: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str | int | float) or not str(item).strip():
            problems.append(f"{where}: {name}[{i}]: must be a non-empty string")
            continue
        text = " ".join(str(item).split())
        if len(text) > MAX_QUESTION_CHARS:
            problems.append(f"{where}: {name}[{i}]: longer than {MAX_QUESTION_CHARS} characters")
            continue
        items.append(text)
    return tuple(dict.fromkeys(items))


def parse_article(text: str, *, slug: str, where: str) -> tuple[ArticleIn | None, list[str]]:
    """Parse one Markdown article; returns the article or the problems found."""
    problems: list[str] = []
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        return None, [f"{where}: front matter: not valid YAML ({exc})"]
    meta = post.metadata
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(f"{where}: title: required (a non-empty string in the front matter)")
    elif len(title) > MAX_TITLE_CHARS:
        problems.append(f"{where}: title: longer than {MAX_TITLE_CHARS} characters")
    body = post.content.strip()
    if not body:
        problems.append(f"{where}: body: empty (write the answer below the front matter)")
    elif len(body) > MAX_BODY_CHARS:
        problems.append(f"{where}: body: longer than {MAX_BODY_CHARS} characters")
    questions = _string_list(meta.get("questions"), where, "questions", problems)
    tags = _string_list(meta.get("tags"), where, "tags", problems)
    if problems:
        return None, problems
    assert isinstance(title, str)
    extra = {k: v for k, v in meta.items() if k not in {"title", "questions", "tags"}}
    article = ArticleIn(
        slug=slug,
        title=" ".join(title.split()),
        body=body,
        questions=questions,
        tags=tuple(t.lower() for t in tags),
        extra=extra,
    )
    return article, []


def load_folder(folder: Path) -> list[ArticleIn]:
    """Every `*.md` article under `folder` (recursively), or KbFormatError naming each problem."""
    if not folder.is_dir():
        raise KbFormatError([f"{folder}: knowledge base folder not found (set SWITCHBOARD_KB_DIR)"])
    articles: list[ArticleIn] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    paths = (p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".md")
    for path in sorted(paths):
        if path.name.lower() == "readme.md":
            continue
        slug = path.relative_to(folder).with_suffix("").as_posix().lower()
        if slug in seen:
            problems.append(f"{path}: same article name as {seen[slug]} (names ignore case)")
            continue
        seen[slug] = path
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
            continue
        article, found = parse_article(text, slug=slug, where=str(path))
        problems.extend(found)
        if article is not None:
            articles.append(article)
    if problems:
        raise KbFormatError(problems)
    return articles
