"""The widget's script as served at /widget.js: app/web/widget.js with the one Markdown
renderer, app/web/shared/markdown.js (the ES module the consoles import), inlined where the
widget names it. The widget stays a single classic script for third-party pages: the module runs
in its own function scope inside the widget's, so it adds no globals to the host page."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path

MARKER = "SWITCHBOARD_SHARED_MARKDOWN"
MODULE = Path("shared") / "markdown.js"
WIDGET = Path("widget.js")

_DECLARED_EXPORT = re.compile(
    r"^export (?=(?:async )?function\*? (\w+)|(?:const|let|class) (\w+))", re.M
)
_ANY_EXPORT_OR_IMPORT = re.compile(r"^\s*(?:export|import)\b", re.M)


@dataclass(frozen=True)
class WidgetScript:
    text: str
    etag: str
    last_modified: str


def module_expression(source: str) -> str:
    """An ES module with no imports whose exports are all `export function|const|let|class NAME`
    declarations, as a JavaScript expression: the module's body in a strict function scope that
    returns {NAME, ...}. Any other import or export form raises ValueError."""
    names = [function or other for function, other in _DECLARED_EXPORT.findall(source)]
    body = _DECLARED_EXPORT.sub("", source)
    leftover = _ANY_EXPORT_OR_IMPORT.search(body)
    if leftover:
        line = body[leftover.start() :].strip().splitlines()[0]
        raise ValueError(f"cannot inline a module with this import or export: {line!r}")
    if not names:
        raise ValueError("the module exports nothing")
    return f'(() => {{\n"use strict";\n{body}\nreturn {{ {", ".join(names)} }};\n}})()'


def build(web_dir: Path) -> WidgetScript:
    """The served widget script, read from `web_dir` (rebuilt when either file changes)."""
    widget, module = web_dir / WIDGET, web_dir / MODULE
    return _build(widget, module, widget.stat().st_mtime_ns, module.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _build(widget: Path, module: Path, widget_mtime: int, module_mtime: int) -> WidgetScript:
    source = widget.read_text(encoding="utf-8")
    if source.count(MARKER) != 1:
        raise ValueError(f"{widget} must name {MARKER} exactly once")
    text = source.replace(MARKER, module_expression(module.read_text(encoding="utf-8")))
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    modified = formatdate(max(widget_mtime, module_mtime) / 1e9, usegmt=True)
    return WidgetScript(text=text, etag=f'"{digest}"', last_modified=modified)
