"""The served widget script: app/web/widget.js with the one Markdown renderer of
app/web/shared/markdown.js inlined in its own scope."""

from __future__ import annotations

import re

import httpx
import pytest

from app.main import WEB_DIR
from app.widget_script import MARKER, build, module_expression


def test_the_widget_carries_the_shared_renderer_and_no_copy_of_its_own() -> None:
    widget = (WEB_DIR / "widget.js").read_text(encoding="utf-8")
    module = (WEB_DIR / "shared" / "markdown.js").read_text(encoding="utf-8")
    assert widget.count(MARKER) == 1
    assert "function renderInline" not in widget
    served = build(WEB_DIR).text
    assert MARKER not in served
    assert served.count("function renderMarkdown(") == 1
    assert "return { safeHref, renderInline, renderMarkdown };" in served
    assert "\nexport " not in served and "\nimport " not in served
    # the module's code itself, unchanged apart from its `export` keywords
    assert re.sub(r"^export ", "", module, flags=re.M) in served


def test_a_module_becomes_an_expression_in_its_own_strict_scope() -> None:
    source = "const A = 1;\nexport const B = A + 1;\nexport function f() {\n  return B;\n}\n"
    assert module_expression(source) == (
        '(() => {\n"use strict";\nconst A = 1;\nconst B = A + 1;\nfunction f() {\n'
        "  return B;\n}\n\nreturn { B, f };\n})()"
    )


@pytest.mark.parametrize(
    "source",
    [
        "export default function f() {}\n",
        "function f() {}\nexport { f };\n",
        'import { g } from "./g.js";\nexport function f() { return g; }\n',
        "const f = 1;\n",
    ],
)
def test_modules_that_cannot_be_inlined_are_refused(source: str) -> None:
    with pytest.raises(ValueError):
        module_expression(source)


async def test_the_route_serves_the_built_script(client: httpx.AsyncClient) -> None:
    script = build(WEB_DIR)
    served = await client.get("/widget.js")
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/javascript; charset=utf-8"
    assert served.text == script.text
    assert served.headers["etag"] == script.etag
    assert served.headers["last-modified"] == script.last_modified
