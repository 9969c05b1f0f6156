"""FieldError: a value's encoder knows what is wrong but not where; the row encoder adds row and column."""
from __future__ import annotations

import json


class FieldError(ValueError):
    pass


def quote_for_message(text: str, limit: int = 60) -> str:
    """``"text"`` for messages: JSON quoting keeps control characters and odd whitespace visible."""
    cut = text[:limit] + "…" if len(text) > limit else text
    return json.dumps(cut, ensure_ascii=False)
