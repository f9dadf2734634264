"""The client's address, for the login lockout (django-axes) and the API rate limits.

Behind TRUSTED_PROXY_COUNT reverse proxies, each appends the address it was connected
from to X-Forwarded-For, so the Nth entry from the right is the one the outermost
trusted proxy saw: the client. Entries further left were written by the client and
prove nothing. With no trusted proxy (the default) the header is ignored entirely and
REMOTE_ADDR is the client, so a forged header neither dodges a limit nor locks someone
else out.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _address(value: str) -> str | None:
    """A bare IPv4 or IPv6 address from one header entry (ports and brackets removed)."""
    value = value.strip()
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: Any) -> str:
    """The client's address: REMOTE_ADDR, or the TRUSTED_PROXY_COUNT-th X-Forwarded-For
    entry from the right when the app sits behind that many proxies.

    A header with fewer entries than trusted proxies, or an entry that is not an address,
    did not come through the whole proxy chain: the connecting address is used instead.
    Takes a Django HttpRequest or a DRF Request.
    """
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        entries = [e for e in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if len(entries) >= proxies:
            forwarded = _address(entries[-proxies])
            if forwarded:
                return forwarded
    return _address(remote) or remote
