"""Text templates of intent replies, prompts and HTTP requests (sandboxed Jinja2).

Templates see only what a turn passes them (`slots`, `customer`, `response`, `status_code`;
`customer.id`, `.email`, `.name` are the verified customer's, empty for an anonymous visitor,
and `customer.verified` says which); anything else
is an error at load time (unknown variable) or at render time (missing attribute), never a blank
in front of a customer. Output is plain text: the widget renders it as text, never as HTML.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


def _path_segment(value: Any) -> str:
    """A rendered value as one URL path segment: every reserved character percent-encoded
    (`/`, `?`, `#`, `%`, spaces, CR/LF...), so a value never leaves its segment; a value of
    dots alone (`.`, `..`) would still walk the path, so it is refused."""
    text = "" if value is None else str(value)
    if text and set(text) == {"."}:
        raise TemplateProblem(f"the value {text!r} cannot be part of a URL path")
    return quote(text, safe="")


# Paths: every `{{ ... }}` output is percent-encoded as a segment; the template's own text
# (its slashes) is kept as written.
_PATH_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, finalize=_path_segment
)

TEMPLATE_VARIABLES = frozenset({"slots", "customer", "response", "status_code"})


class TemplateProblem(ValueError):
    """A template that does not compile, or failed to render."""


def check_template(source: str, allowed: frozenset[str] = TEMPLATE_VARIABLES) -> None:
    """Raise TemplateProblem when `source` does not compile or names an unknown variable."""
    try:
        parsed = _ENV.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template does not compile: {exc}") from exc
    unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
    if unknown:
        raise TemplateProblem(
            f"template uses unknown variable(s) {', '.join(unknown)}; "
            f"available: {', '.join(sorted(allowed))}"
        )


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    """`source` compiled once (intents' templates are few; compiling took longer than
    rendering, on every turn)."""
    return _ENV.from_string(source)


def render(source: str, **variables: Any) -> str:
    """Render `source` with `variables`; TemplateProblem names what was missing."""
    try:
        return _compiled(source).render(**variables).strip()
    except TemplateError as exc:
        raise TemplateProblem(f"template failed: {exc}") from exc


@lru_cache(maxsize=1024)
def _compiled_path(source: str) -> Template:
    return _PATH_ENV.from_string(source)


def render_path(source: str, **variables: Any) -> str:
    """Render a URL path template: each value it puts in is percent-encoded as one path
    segment (`x/../../healthz` stays `x%2F..%2F..%2Fhealthz`); TemplateProblem otherwise."""
    try:
        return _compiled_path(source).render(**variables).strip()
    except TemplateError as exc:
        raise TemplateProblem(f"template failed: {exc}") from exc


def render_value(value: Any, **variables: Any) -> Any:
    """Render every string inside a JSON-like value (an HTTP body template)."""
    if isinstance(value, str):
        return render(value, **variables)
    if isinstance(value, dict):
        return {key: render_value(item, **variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, **variables) for item in value]
    return value
