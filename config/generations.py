"""Reads that rarely change, cached until they do: a generation number per kind of data.

A generation lives in the shared cache (Redis in production, a file cache in
development), so every web and worker process sees a bump at once. Signals bump it
whenever a row of the kind is saved or deleted (at once, for the writer's own
transaction, and again on commit, so that no process caches the old rows under the new
number while the change is still uncommitted). A value is cached under its generation,
in this process (`memo`) or in the shared cache (`shared`), and for at most
`MAX_AGE` seconds, which bounds how long a change made past the ORM (raw SQL, a
restored database) can go unseen. Without a reachable cache there is no generation and
every read goes to the database.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

T = TypeVar("T")

MAX_AGE = 60  # seconds

# Who a token is and what a user may do (config.tokens, the preferences middleware).
AUTH_GENERATION = "auth"

_known: set[str] = set()
_memo: dict[tuple[str, int, Hashable], tuple[float, Any]] = {}
_lock = threading.Lock()


def _key(name: str) -> str:
    return f"accord:generation:{name}"


def generation(name: str) -> int | None:
    """The current generation of `name` (None when the cache cannot be reached).

    A random number, not a counter: a cache that lost the key (evicted, cleared) starts
    a new generation that cannot meet a value cached under an old one.
    """
    value = cache.get(_key(name))
    if value is None:
        cache.add(_key(name), secrets.randbits(62), timeout=None)
        value = cache.get(_key(name))
    return value if isinstance(value, int) else None


def generation_bump(name: str) -> None:
    """Mark `name` changed: now, and once more when the current transaction commits."""

    def bump() -> None:
        cache.set(_key(name), secrets.randbits(62), timeout=None)

    bump()
    transaction.on_commit(bump)


def generation_bump_on(name: str, *senders: type[Model] | Any) -> None:
    """Bump `name` whenever a row of one of `senders` (models, or m2m `through` models) is
    saved or deleted, or an m2m relation through one changes."""

    def changed(sender: Any, **kwargs: Any) -> None:
        if kwargs.get("action", "post_").startswith("post_"):
            generation_bump(name)

    _known.add(name)
    for sender in senders:
        uid = f"accord-generation-{name}-{sender._meta.label_lower}"
        post_save.connect(changed, sender=sender, weak=False, dispatch_uid=uid + "-save")
        post_delete.connect(changed, sender=sender, weak=False, dispatch_uid=uid + "-delete")
        m2m_changed.connect(changed, sender=sender, weak=False, dispatch_uid=uid + "-m2m")


def memo(name: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` cached in this process under `name`'s generation and `key`."""
    current = generation(name)
    if current is None:
        return compute()
    slot = (name, current, key)
    now = time.monotonic()
    found = _memo.get(slot)
    if found is not None and now - found[0] < MAX_AGE:
        return found[1]
    value = compute()
    with _lock:
        for old in [s for s in _memo if s[0] == name and s[1] != current]:
            _memo.pop(old, None)
        _memo[slot] = (now, value)
    return value


def shared(name: str, key: str, compute: Callable[[], T]) -> T:
    """`compute()` cached in the shared cache under `name`'s generation and `key`."""
    current = generation(name)
    if current is None:
        return compute()
    cache_key = f"accord:cached:{name}:{current}:{key}"
    found = cache.get(cache_key)
    if found is not None:
        return found
    value = compute()
    cache.set(cache_key, value, timeout=MAX_AGE)
    return value


def generations_restart() -> None:
    """Forget what this process cached and start every generation afresh (the tests start
    each clean: a rolled-back transaction sends no signal)."""
    with _lock:
        _memo.clear()
    for name in _known:
        cache.set(_key(name), secrets.randbits(62), timeout=None)
