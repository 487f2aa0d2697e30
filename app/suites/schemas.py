"""What the admin API of conversation suites takes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.suites.definitions import MAX_SUITE_BYTES


class RunIn(BaseModel):
    """A run: a suite of the configured folder by name, or a suite's YAML text (pasted or
    uploaded) under a name; optionally with a draft article as if it were published."""

    model_config = ConfigDict(extra="forbid")

    suite: str | None = Field(
        None, min_length=1, max_length=200, description="A suite of the suites folder, by name."
    )
    yaml: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_SUITE_BYTES,
        description="A suite file's YAML text (instead of `suite`).",
    )
    name: str = Field(
        "pasted suite",
        min_length=1,
        max_length=200,
        description="The name a pasted suite's runs are kept and compared under.",
    )
    draft_article_id: int | None = Field(
        None, description="An unpublished article to try as if published; nothing is published."
    )

    @model_validator(mode="after")
    def _one_source(self) -> RunIn:
        if (self.suite is None) == (self.yaml is None):
            raise ValueError("send either `suite` (a name from the suites folder) or `yaml`")
        return self
