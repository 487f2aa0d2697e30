"""What text the service accepts from customers and staff: valid Unicode without control
characters other than newline, carriage return and tab.

A lone surrogate (`"\\ud800"` in JSON) is a Python string but not text: the tokenizer cannot
encode it and the database cannot store it, so it is refused before anything runs, with a
message naming the character and where it is. Every request body whose text is encoded or
stored validates it with `check_text` (pydantic validators raise its ValueError as a 422).
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls except tab (09), newline (0a) and carriage return (0d); DEL; C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text_problem(value: str) -> str | None:
    """What makes `value` unacceptable as text, or None when it is fine."""
    found = _SURROGATE.search(value)
    if found is not None:
        return (
            f"contains a lone surrogate U+{ord(found.group()):04X} at character "
            f"{found.start()}, which is not valid Unicode text; send UTF-8 text"
        )
    found = _CONTROL.search(value)
    if found is not None:
        code = ord(found.group())
        name = "NUL (U+0000)" if code == 0 else f"U+{code:04X}"
        return (
            f"contains the control character {name} at character {found.start()}; "
            "only newline, carriage return and tab are allowed"
        )
    return None


def check_text(value: str) -> str:
    """`value` unchanged, or ValueError saying what is wrong with it (for pydantic validators)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value
