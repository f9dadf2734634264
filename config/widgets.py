"""Form widgets shared by the apps' forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.html import format_html_join
from django.utils.safestring import SafeString


@dataclass(frozen=True)
class Confirmation:
    """What a consequential action asks before it happens (config/confirm.py): the same
    words in the browser's dialog (`attrs`) and on the page without JavaScript."""

    title: str
    consequence: str
    label: str  # the confirming button, e.g. "Mark as lost"

    def attrs(self) -> dict[str, str]:
        """The attributes that make accord.js ask: on a form, or on one option of its
        select (the form then carries data-confirm-options)."""
        return {
            "data-confirm": self.consequence,
            "data-confirm-label": self.label,
            "data-confirm-title": self.title,
        }

    def as_attrs(self) -> SafeString:
        """The same attributes for a template: `<form … {{ confirmation.as_attrs }}>`."""
        return format_html_join(" ", '{}="{}"', self.attrs().items())


class OptionAttrsSelect(forms.Select):
    """A select whose options may carry attributes of their own, by value: a move to won
    or lost asks for confirmation, a move to SQL does not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_attrs: dict[str, dict[str, str]] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> OptionAttrsSelect:
        copied = super().__deepcopy__(memo)
        copied.option_attrs = dict(self.option_attrs)
        return copied

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        extra = self.option_attrs.get(str(value))
        if extra:
            option["attrs"] = {**option["attrs"], **extra}
        return option
