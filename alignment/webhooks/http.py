"""Outgoing webhook HTTP that cannot be turned against Accord's own network.

A webhook URL is chosen by any user, so the worker that POSTs to it must not become a
way into the network it runs in (SSRF: 127.0.0.1, the cloud metadata service at
169.254.169.254, a database on 10.0.0.5) nor be held by a slow receiver:

- `webhook_target_vet` resolves the host and refuses it when any address it resolves
  to is not a public unicast address (private, loopback, link-local, multicast,
  reserved, unspecified, shared, site-local; IPv4 inside IPv6 — mapped, NAT64, 6to4 —
  is judged by its IPv4 address). Only https, unless WEBHOOK_ALLOW_PRIVATE_TARGETS
  (local development and tests) also allows http and loopback/private receivers.
- `webhook_post` connects to exactly the addresses that were vetted (no second DNS
  lookup between the check and the connection, so DNS rebinding has no window) while
  the Host header and TLS SNI/certificate check use the name; it never follows a
  redirect and never uses a proxy; one deadline covers resolution, connection, TLS
  handshake, sending and reading the status line and headers.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookTargetRefused(Exception):
    """The URL may not receive webhooks: a bad scheme or host, or a non-public address."""


class WebhookTargetUnresolved(Exception):
    """The host name could not be resolved right now (a temporary DNS failure)."""


class WebhookDeadlineExceeded(TimeoutError):
    """The receiver did not answer within the delivery's deadline."""


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str  # http | https
    host: str  # the name as sent in Host and SNI (IDNA-encoded), or an IP literal
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[IPAddress, ...] = ()


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False))


def webhook_target_parse(url: str) -> WebhookTarget:
    """Scheme, host, port and path of `url`; refuses what can be told without DNS."""
    allow_http = _allow_private()
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise WebhookTargetRefused(_("The URL is not valid.")) from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise WebhookTargetRefused(
            _("Use an http:// or https:// URL.") if allow_http else _("Use an https:// URL.")
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookTargetRefused(_("The URL needs a host name."))
    if port == 0:
        raise WebhookTargetRefused(_("The URL's port is not valid."))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise WebhookTargetRefused(_("The URL's host name is not valid.")) from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(
        scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), path=path
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def webhook_address_allowed(address: IPAddress) -> bool:
    """Whether a webhook may be sent to `address` (see the module's docstring)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        if not webhook_address_allowed(embedded):
            return False
        if isinstance(address, ipaddress.IPv6Address) and (
            address.ipv4_mapped is not None or address in _NAT64
        ):
            return True  # it reaches its IPv4 address, which is allowed
    never = (
        address.is_multicast
        or address.is_unspecified
        or address.is_link_local  # includes 169.254.169.254, the cloud metadata service
        or address.is_reserved
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )
    if never:
        return False
    if _allow_private() and (address.is_loopback or address.is_private):
        return True
    return address.is_global and not address.is_private and not address.is_loopback


_resolver: ThreadPoolExecutor | None = None
# A lookup failing with these may work later (retry); a name that does not exist is refused.
_TEMPORARY_DNS_ERRORS = {
    getattr(socket, name) for name in ("EAI_AGAIN", "EAI_SYSTEM") if hasattr(socket, name)
}


def _resolve(host: str, port: int, *, timeout: float) -> tuple[IPAddress, ...]:
    """Every address `host` resolves to, in the resolver's order, within `timeout`."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    global _resolver
    if _resolver is None:  # created on first use: after a prefork worker has forked
        _resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")
    # getaddrinfo has no timeout of its own; a lookup that outlives the deadline is
    # left to finish in the pool while the delivery fails now.
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except FutureTimeout:
        raise WebhookTargetUnresolved(_("Looking up the host name took too long.")) from None
    except socket.gaierror as exc:
        if exc.errno in _TEMPORARY_DNS_ERRORS:
            raise WebhookTargetUnresolved(_("Looking up the host name failed.")) from None
        raise WebhookTargetRefused(_target_refused_message()) from None
    except (OSError, UnicodeError):
        raise WebhookTargetRefused(_target_refused_message()) from None
    addresses: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookTargetRefused(_target_refused_message())
    return tuple(addresses)


def _target_refused_message() -> str:
    # One message whether the name is private or does not exist, and no address in it:
    # a user must not learn the insides of the network (which internal names exist,
    # what they resolve to) by subscribing to them.
    if _allow_private():
        return _("Webhooks are sent only to hosts that resolve to reachable addresses.")
    return _(
        "Webhooks are sent only to public addresses: this host resolves to a private, "
        "loopback, link-local or otherwise internal address, or does not resolve."
    )


def webhook_target_vet(url: str, *, timeout: float | None = None) -> WebhookTarget:
    """Parse `url` and resolve its host; refused when ANY address it resolves to is.

    Raises WebhookTargetRefused (for good) or WebhookTargetUnresolved (try later).
    """
    target = webhook_target_parse(url)
    if timeout is None:
        timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    addresses = _resolve(target.host, target.port, timeout=timeout)
    refused = [a for a in addresses if not webhook_address_allowed(a)]
    if refused:
        logger.warning(
            "Webhook target %s refused: it resolves to %s",
            target.host,
            ", ".join(str(a) for a in refused),
        )
        raise WebhookTargetRefused(_target_refused_message())
    return WebhookTarget(
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        path=target.path,
        addresses=addresses,
    )


def webhook_url_check(url: str) -> None:
    """The subscription-time check of a URL: a ValidationError on `url` when refused."""
    try:
        webhook_target_vet(url)
    except (WebhookTargetRefused, WebhookTargetUnresolved) as exc:
        raise ValidationError({"url": [str(exc)]}) from None


# --- one POST under one deadline ---------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise WebhookDeadlineExceeded
        return left


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What http.client needs of a socket, each call bounded by what is left of the
    deadline: a receiver that trickles a byte at a time cannot stretch it."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._sock.settimeout(self._deadline.remaining())
            sent = self._sock.send(view)
            view = view[sent:]

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        self._sock.close()


_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """Certificates verified against the system's CAs and the host name (SNI)."""
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to the vetted addresses only; Host and SNI carry the name."""

    def __init__(self, target: WebhookTarget, deadline: _Deadline) -> None:
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80
        self._target, self._deadline = target, deadline

    def connect(self) -> None:
        sock: socket.socket | None = None
        failure: OSError | None = None
        for address in self._target.addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            candidate = socket.socket(family, socket.SOCK_STREAM)
            try:
                candidate.settimeout(self._deadline.remaining())
                candidate.connect((str(address), self._target.port))
            except OSError as exc:
                candidate.close()
                if isinstance(exc, WebhookDeadlineExceeded | TimeoutError):
                    raise
                failure = exc
                continue
            sock = candidate
            break
        if sock is None:
            raise failure or OSError(_("No address to connect to."))
        if self._target.scheme == "https":
            try:
                sock.settimeout(self._deadline.remaining())
                sock = _tls_context().wrap_socket(sock, server_hostname=self._target.host)
            except BaseException:
                sock.close()
                raise
        self.sock = _DeadlineSocket(sock, self._deadline)


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str = ""
    refused: bool = False  # the target may not be contacted: fail for good, no retry


def webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST `body` to `url` once: vetted, pinned, no redirects, one overall deadline."""
    seconds = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    deadline = _Deadline(seconds)  # from before the DNS lookup to the last header
    try:
        target = webhook_target_vet(url, timeout=deadline.remaining())
    except WebhookTargetRefused as exc:
        return PostResult(None, _("Refused, nothing sent: %(reason)s") % {"reason": exc}, True)
    except WebhookTargetUnresolved as exc:
        return PostResult(None, str(exc))
    connection: _PinnedConnection | None = None
    try:
        connection = _PinnedConnection(target, deadline)
        connection.request(
            "POST", target.path, body=body, headers={**headers, "Connection": "close"}
        )
        reply = connection.getresponse()  # the status line and headers; the body is unread
        return PostResult(reply.status)
    except (WebhookDeadlineExceeded, TimeoutError):
        return PostResult(
            None,
            _("No complete answer within %(seconds)s seconds.") % {"seconds": f"{seconds:g}"},
        )
    except ssl.SSLError as exc:
        return PostResult(None, _("TLS failed: %(error)s") % {"error": str(exc)[:500]})
    except (http.client.HTTPException, OSError, ValueError) as exc:
        return PostResult(None, (str(exc) or type(exc).__name__)[:1000])
    finally:
        if connection is not None:
            connection.close()
