"""How deeply JSON text nests, measured before it is parsed: Python's parser recurses once per
level and fails with RecursionError near a thousand, so depth is refused at the door instead."""

from __future__ import annotations

import re

# A JSON string (escapes included), so that brackets inside text are not counted, or a bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset("[{")


def nesting_exceeds(text: str, depth_max: int) -> bool:
    """Whether arrays and objects in `text` nest more than `depth_max` deep.

    Text that is not JSON at all is measured just the same (a parser refuses it afterwards);
    the scan stops at the first level too deep, so a body of brackets costs little."""
    if text.count("[") + text.count("{") <= depth_max:
        return False  # the common case, decided without a scan
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if len(token) != 1:
            continue
        if token in _OPENING:
            depth += 1
            if depth > depth_max:
                return True
        else:
            depth -= 1
    return False
