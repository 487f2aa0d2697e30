"""Request and response bodies of the admins' knowledge-base API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.kb.loader import MAX_BODY_CHARS, MAX_QUESTION_CHARS, MAX_TITLE_CHARS
from app.text_rules import check_text

ArticleStatus = Literal["draft", "published", "archived"]
MAX_QUESTIONS = 50
MAX_TAGS = 20
MAX_TAG_CHARS = 50


def _one_line(value: str) -> str:
    return " ".join(check_text(value).split())


class ArticleDraft(BaseModel):
    """An article as an admin writes it. Only `published` articles answer customers."""

    model_config = {"extra": "forbid"}

    title: str = Field(max_length=MAX_TITLE_CHARS, description="Not blank.")
    body: str = Field(max_length=MAX_BODY_CHARS, description="The answer, in Markdown.")
    questions: list[str] = Field(
        default_factory=list,
        max_length=MAX_QUESTIONS,
        description="Other ways customers ask this (each up to 500 characters).",
    )
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    status: ArticleStatus = "published"
    slug: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[a-z0-9][a-z0-9/_-]*$",
        description="A stable name (lower-case); made from the title when omitted.",
    )

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or blank")
        return _one_line(value)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or blank; write the answer")
        return check_text(value).strip()

    @field_validator("questions")
    @classmethod
    def _questions(cls, value: list[str]) -> list[str]:
        cleaned = []
        for i, question in enumerate(value):
            text = _one_line(question)
            if not text:
                raise ValueError(f"item {i} is empty")
            if len(text) > MAX_QUESTION_CHARS:
                raise ValueError(f"item {i} is longer than {MAX_QUESTION_CHARS} characters")
            cleaned.append(text)
        return list(dict.fromkeys(cleaned))

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        cleaned = []
        for i, tag in enumerate(value):
            text = _one_line(tag).lower()
            if not text or len(text) > MAX_TAG_CHARS:
                raise ValueError(f"item {i} must be 1 to {MAX_TAG_CHARS} characters")
            cleaned.append(text)
        return list(dict.fromkeys(cleaned))


class ArticleUpdate(ArticleDraft):
    """A full replacement of an article; `version` (optional) guards against lost updates."""

    version: int | None = Field(
        None,
        ge=1,
        description="The version this edit starts from; 409 if the article changed since.",
    )


class ArticleRead(BaseModel):
    """A stored article."""

    id: int
    slug: str
    title: str
    body: str
    questions: list[str]
    tags: list[str]
    status: str
    source: str = Field(description="file (from knowledge_base/) or api")
    version: int
    updated_by: int | None
    created_at: datetime
    updated_at: datetime


class ArticlePage(BaseModel):
    """A page of articles."""

    items: list[ArticleRead]
    total: int
    offset: int
    limit: int


class VersionRead(BaseModel):
    """One saved version of an article."""

    version: int
    title: str
    body: str
    questions: list[str]
    tags: list[str]
    status: str
    change: str
    author: dict[str, Any] | None = Field(None, description="{id, name} of who saved it.")
    created_at: datetime


class TryIn(BaseModel):
    """A message to try on the bot."""

    model_config = {"extra": "forbid"}

    text: str = Field(min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or blank")
        return check_text(value)
