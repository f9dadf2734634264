"""Source channels in the customer's words: the alias table and the one resolution rule.

A source string (an import cell) names a channel when it is a SourceChannel value or label
(any case), else when it is an alias (ChannelAlias); otherwise it is unmapped and the row
is refused, naming the value. Spaces and dashes count as underscores when matching
(`direct traffic` finds the alias `direct_traffic`). Aliases are edited by whoever may
import leads (the page, the dry run's quick map and the admin all call these services).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from leads.models import ChannelAlias, SourceChannel

ALIAS_MAX_CHARS = ChannelAlias._meta.get_field("alias").max_length or 100
_SPACES = re.compile(r"\s+")


def channel_text_normalise(value: str) -> str:
    """How an alias is stored and looked up: trimmed, lower case, single spaces."""
    return _SPACES.sub(" ", (value or "").strip()).lower()


def _underscored(key: str) -> str:
    return key.replace(" ", "_").replace("-", "_")


def _channels() -> dict[str, str]:
    """Each SourceChannel value and label (lower case, also underscored) → its value."""
    return _channels_in(get_language())


@lru_cache(maxsize=16)
def _channels_in(language: str | None) -> dict[str, str]:
    # Once per language (the labels are the reader's), not once per imported row.
    known: dict[str, str] = {}
    for value, label in SourceChannel.choices:
        for name in (value, channel_text_normalise(str(label))):
            known[name] = value
            known[_underscored(name)] = value
    return known


# --- who may edit ---------------------------------------------------------------------------


def channel_alias_refusal(*, user: User | AnonymousUser | None) -> str | None:
    """Who may add or delete aliases: whoever may import leads (marketers, marketing
    managers; `leads.add_leadimport`), and Accord itself (no user)."""
    if user is None or (user.is_authenticated and user.has_perm("leads.add_leadimport")):
        return None
    return _("Only marketers and marketing managers may edit channel aliases.")


def channel_alias_read_refusal(*, user: User | AnonymousUser) -> str | None:
    """Who may read the alias list: whoever may see imports."""
    if user.is_authenticated and (
        user.has_perm("leads.view_leadimport") or user.has_perm("leads.add_leadimport")
    ):
        return None
    return _("Your role may not see imports.")


# --- reads ----------------------------------------------------------------------------------


def channel_aliases() -> QuerySet[ChannelAlias]:
    return ChannelAlias.objects.select_related("created_by").order_by("alias")


@dataclass
class ChannelResolver:
    """The aliases read once (the table is small), for a whole import run; counts the
    values it could not map, for the dry run's list."""

    aliases: dict[str, str]
    unmapped: Counter[str] = field(default_factory=Counter)
    spelling: dict[str, str] = field(default_factory=dict)  # key → first spelling seen
    resolved: dict[str, str | None] = field(default_factory=dict)  # value → its channel

    def resolve(self, value: str) -> str | None:
        """The channel `value` names, or None (counted as unmapped); blank is None too."""
        if value in self.resolved:  # a file repeats a few values over all its rows
            channel = self.resolved[value]
        else:
            channel = self.resolved[value] = channel_resolve(value=value, aliases=self.aliases)
        if channel is None and (value or "").strip():
            key = channel_text_normalise(value)
            self.unmapped[key] += 1
            self.spelling.setdefault(key, value.strip())
        return channel

    def unmapped_values(self) -> list[tuple[str, int]]:
        """(value as first written, rows), the most frequent first."""
        return [(self.spelling[key], n) for key, n in _by_count(self.unmapped)]


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def channel_resolver() -> ChannelResolver:
    return ChannelResolver(aliases=dict(ChannelAlias.objects.values_list("alias", "channel")))


def channel_resolve(*, value: str, aliases: dict[str, str] | None = None) -> str | None:
    """The SourceChannel value a source string names: a channel value or label (any case),
    else an alias; None when it names none. `aliases`: the table, when already read."""
    key = channel_text_normalise(value)
    if not key:
        return None
    known = _channels()
    if key in known:
        return known[key]
    if _underscored(key) in known:
        return known[_underscored(key)]
    if aliases is None:
        found = ChannelAlias.objects.filter(alias__in={key, _underscored(key)}).values_list(
            "alias", "channel"
        )
        aliases = dict(found)
    return aliases.get(key) or aliases.get(_underscored(key))


def source_values_unmapped(*, values: Iterable[str]) -> list[tuple[str, int]]:
    """The values (as first written) no channel or alias names, with how often each came,
    the most frequent first; blank values are no source and never unmapped."""
    resolver = channel_resolver()
    for value in values:
        resolver.resolve(value)
    return resolver.unmapped_values()


# --- writes ---------------------------------------------------------------------------------


def channel_alias_clean(*, alias: str, channel: str) -> tuple[str, str]:
    """The alias normalised and its channel, or ValidationError by field: empty, too long,
    a NUL character, already a channel's own name, already an alias, an unknown channel."""
    errors: dict[str, list[str]] = {}
    raw = alias or ""
    key = channel_text_normalise(raw)
    if "\x00" in raw:
        errors["alias"] = [_("The alias holds a NUL character; type it again.")]
    elif not key:
        errors["alias"] = [_("Type the name your files use for the channel.")]
    elif len(key) > ALIAS_MAX_CHARS:
        errors["alias"] = [
            _("An alias is at most %(max)s characters long.") % {"max": ALIAS_MAX_CHARS}
        ]
    elif key in _channels() or _underscored(key) in _channels():
        errors["alias"] = [
            _("“%(alias)s” is already a source channel of Accord; it needs no alias.")
            % {"alias": key}
        ]
    else:
        existing = ChannelAlias.objects.filter(alias__in={key, _underscored(key)}).first()
        if existing is not None:
            errors["alias"] = [
                _("“%(alias)s” is already an alias of %(channel)s.")
                % {"alias": existing.alias, "channel": existing.get_channel_display()}
            ]
    if channel not in SourceChannel.values:
        errors["channel"] = [
            _("Choose one of Accord's source channels: %(choices)s.")
            % {"choices": ", ".join(SourceChannel.values)}
        ]
    if errors:
        raise ValidationError(errors)
    return key, channel


def channel_alias_create(*, alias: str, channel: str, user: User | None) -> ChannelAlias:
    """Add an alias (normalised). Raises PermissionDenied or ValidationError; a second
    call with the same alias is refused as a duplicate, nothing is changed."""
    refusal = channel_alias_refusal(user=user)
    if refusal:
        raise PermissionDenied(refusal)
    key, channel = channel_alias_clean(alias=alias, channel=channel)
    try:
        with transaction.atomic():
            return ChannelAlias.objects.create(
                alias=key, channel=channel, created_by=user if user is not None else None
            )
    except IntegrityError:  # taken meanwhile
        raise ValidationError(
            {"alias": [_("“%(alias)s” is already an alias.") % {"alias": key}]}
        ) from None


def channel_alias_delete(*, alias: ChannelAlias, user: User | None) -> None:
    """Delete an alias; leads already imported keep their channel. Safe twice."""
    refusal = channel_alias_refusal(user=user)
    if refusal:
        raise PermissionDenied(refusal)
    ChannelAlias.objects.filter(pk=alias.pk).delete()
