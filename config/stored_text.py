"""Sentences Accord writes onto records (a stage move's reason), shown in the reader's language.

A service stores the sentence as written in the code, e.g.
`stored_text(sentence=SCORE_REACHED, score=60, threshold=50)`, and a page shows it with
`stored_text_display(text=...)` (the `system_text` template filter), which finds the sentence
and its values again and translates it. Anything else stored, such as a note a user typed,
is shown as it is.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.utils.translation import gettext, gettext_noop

DEAL_OPENED = gettext_noop("Deal opened.")
DEAL_CLOSED = gettext_noop("Deal “%(deal)s” closed.")
SCORE_REACHED = gettext_noop("Score %(score)s reached the threshold of %(threshold)s.")
SCORE_REACHED_UNDER = gettext_noop(
    "Score %(score)s reached the threshold of %(threshold)s (version %(v)s)."
)
DISPUTE_OVERTURNED = gettext_noop(
    "Rejection overturned by the decision on dispute #%(dispute)s, in marketing's favour."
)
SENTENCES = (DEAL_OPENED, DEAL_CLOSED, SCORE_REACHED, SCORE_REACHED_UNDER, DISPUTE_OVERTURNED)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def stored_text(*, sentence: str, **values: Any) -> str:
    """The sentence to store, in the language of the code whoever's request stores it."""
    return sentence % values if values else sentence


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    patterns = []
    for sentence in SENTENCES:
        parts = _PLACEHOLDER.split(sentence)  # literal, name, literal, name, …, literal
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
        )
        patterns.append((sentence, re.compile(regex, re.S)))
    return patterns


def stored_text_display(*, text: Any) -> Any:
    """A stored sentence of Accord's in the active language; any other text unchanged."""
    if not isinstance(text, str) or not text.strip():
        return text
    for sentence, pattern in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return gettext(sentence) % match.groupdict()
    return text
