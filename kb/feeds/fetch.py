"""Fetch one feed over HTTP, politely and defensively.

- Conditional GET (If-None-Match / If-Modified-Since); a 304 returns no body.
- Redirects are followed by hand (at most `max_redirects`), so that every hop is checked and a
  chain of permanent redirects (301/308) can be reported as the feed's new address.
- SSRF guard: the host is resolved by us at *connect* time, on every hop, and the connection
  goes to the very address that was checked (no DNS rebinding). Every block in IANA's IPv4 and
  IPv6 special-purpose address registries is refused (listed below, not left to
  `ipaddress.is_global`, which was wrong for 192.0.0.0/24 before CVE-2024-4032's fix), and so
  are multicast and reserved space, and the IPv4-mapped, NAT64 and 6to4 forms of all of them,
  unless `feeds.allow_private`. Only http and https.
- Timeouts for connect and each read, and a total deadline that holds for every read and
  write of the request, headers included (a server dripping one byte at a time is cut off),
  and a byte cap on the *decoded* body, with gzip/deflate decoded here in bounded steps.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from kb.config import FeedSettings

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
# IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates), with
# multicast and the reserved blocks. Nothing here is a place a public feed lives.
SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24",
        "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
        "::/96", "::1/128", "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64", "2001::/23",
        "2001:db8::/32", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class FetchError(Exception):
    """The feed could not be fetched. `kind` is one of: refused, invalid, timeout, too-large,
    network, redirects, encoding."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


class AddressRefused(FetchError):
    def __init__(self, message: str):
        super().__init__("refused", message)


@dataclass
class Response:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes | None = None  # only for 200
    permanent_url: str | None = None  # set when every hop so far was a permanent redirect
    elapsed: float = 0.0

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    def retry_after(self, now: float | None = None) -> float | None:
        """Seconds to wait, from a Retry-After header in seconds or as an HTTP date."""
        return parse_retry_after(self.headers.get("retry-after"), now)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# -- the address guard -----------------------------------------------------------------------


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for an address outside every special-purpose block (embedded IPv4 forms are
    unwrapped and checked too: IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = None
        if ip in _MAPPED:
            embedded = ip.ipv4_mapped
        elif ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip in _SIXTOFOUR:
            embedded = ip.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
    return not any(ip in net for net in SPECIAL_PURPOSE if net.version == ip.version)


def address_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> bool:
    return allow_private or is_public_address(ip)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (literals such as 0x7f.0.0.1 included, as the OS reads them)."""
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError("network", f"cannot resolve {host!r}: {exc}") from exc
    out: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in out:
            out.append(address)
    return out


_request = threading.local()  # the deadline of the fetch this thread is doing


def _time_left(timeout: float | None) -> float | None:
    """A read or write timeout cut to what is left of the fetch's total deadline."""
    deadline = getattr(_request, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the total time allowed for the fetch ran out")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write stops at the fetch's total deadline, so a server
    that drips its status line or headers one byte at a time is cut off like a slow body."""

    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info: str) -> object:
        return self.inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, refuses forbidden addresses, then connects to a checked address."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple] | None = None,
    ) -> httpcore.NetworkStream:  # type: ignore[override]
        addresses = resolve(host, port)
        allowed = [a for a in addresses if address_allowed(ipaddress.ip_address(a), self.allow_private)]
        if not allowed:
            shown = ", ".join(addresses)
            raise AddressRefused(
                f"refused to connect to {host} ({shown}): a private, loopback, link-local or "
                "otherwise non-public address (set [feeds] allow_private = true only for tests)"
            )
        last: Exception | None = None
        for address in allowed:
            try:
                stream = super().connect_tcp(address, port, _time_left(timeout), local_address, socket_options)
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool, limits: httpx.Limits):
        context = ssl.create_default_context(cafile=certifi.where())
        super().__init__(verify=context, trust_env=False, limits=limits)
        if not hasattr(self, "_pool"):  # pragma: no cover - guards against an httpx change
            raise RuntimeError("httpx.HTTPTransport changed: the feed fetcher's address guard cannot be installed")
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


# -- fetching --------------------------------------------------------------------------------


class Fetcher:
    """One HTTP client for many feeds (thread-safe; share it between poll threads)."""

    def __init__(self, settings: FeedSettings):
        self.settings = settings
        limits = httpx.Limits(
            max_connections=max(4, settings.concurrency * 2), max_keepalive_connections=max(2, settings.concurrency)
        )
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.total_timeout,
        )
        self.client = httpx.Client(
            transport=_GuardedTransport(settings.allow_private, limits),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Response:
        """GET `url`; a 200 carries the body, anything else only its status and headers."""
        settings = self.settings
        started = time.monotonic()
        deadline = started + settings.total_timeout
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        _request.deadline = deadline
        try:
            return self._follow(url, headers, started, deadline)
        finally:
            _request.deadline = None

    def _follow(self, url: str, headers: dict[str, str], started: float, deadline: float) -> Response:
        settings = self.settings
        current = url
        permanent_url: str | None = None
        all_permanent = True
        for _hop in range(settings.max_redirects + 1):
            _check_url(current)
            try:
                request = self.client.build_request("GET", current, headers=headers)
            except httpx.InvalidURL as exc:
                raise FetchError("invalid", f"not a valid address {current!r}: {exc}") from exc
            try:
                response = self.client.send(request, stream=True)
            except FetchError:
                raise
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"timed out {_phase(exc)} {urlsplit(current).netloc}") from exc
            except httpx.InvalidURL as exc:  # not an HTTPError: httpx reads a redirect's Location itself
                raise FetchError(
                    "invalid", f"{current} answered with an address that cannot be fetched: {exc}"
                ) from exc
            except httpx.HTTPError as exc:
                raise FetchError("network", f"{type(exc).__name__}: {exc or 'connection failed'}") from exc
            try:
                status = response.status_code
                got = {k.lower(): v for k, v in response.headers.items()}
                if status in REDIRECTS and "location" in got:
                    target = urljoin(current, got["location"].strip())
                    if status in PERMANENT and all_permanent:
                        permanent_url = target
                    else:
                        all_permanent = False
                    current = target
                    continue
                body = self._read(response, got, deadline) if status == 200 else None
                return Response(
                    url=url,
                    final_url=current,
                    status=status,
                    headers=got,
                    body=body,
                    permanent_url=permanent_url,
                    elapsed=time.monotonic() - started,
                )
            finally:
                response.close()
        raise FetchError("redirects", f"more than {settings.max_redirects} redirects, starting at {url}")

    def _read(self, response: httpx.Response, headers: dict[str, str], deadline: float) -> bytes:
        cap = self.settings.max_bytes
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cap and headers.get("content-encoding", "identity") == "identity":
            raise FetchError(
                "too-large", f"the feed is {int(length):,} bytes, more than the {cap:,} allowed (feeds.max_bytes)"
            )
        decoder = _Decoder(headers.get("content-encoding", ""), cap)
        try:
            for chunk in response.iter_raw():
                decoder.feed(chunk)
                if time.monotonic() > deadline:
                    raise FetchError(
                        "timeout",
                        f"the download took longer than {self.settings.total_timeout:g} s (feeds.total_timeout)",
                    )
            decoder.finish()
        except httpx.TimeoutException as exc:
            raise FetchError(
                "timeout", f"timed out reading the feed body after {self.settings.read_timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError("network", f"{type(exc).__name__} while reading the body: {exc}") from exc
        return decoder.value()


def _phase(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting to"
    if isinstance(exc, httpx.PoolTimeout):
        return "waiting for a connection to"
    return "reading from"


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError("invalid", f"not a valid address {url!r}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise AddressRefused(f"refused {url!r}: only http and https addresses are fetched")
    if not parts.hostname:
        raise FetchError("invalid", f"no host in {url!r}")


class _Decoder:
    """Decodes gzip/deflate in bounded steps and stops at `cap` decoded bytes."""

    def __init__(self, encoding: str, cap: int):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self.mode = "identity"
        elif encoding in ("gzip", "x-gzip"):
            self.mode = "gzip"
        elif encoding == "deflate":
            self.mode = "deflate"
        else:
            raise FetchError("encoding", f"unsupported Content-Encoding {encoding!r} (gzip and deflate are accepted)")
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self._z: zlib._Decompress | None = None  # type: ignore[name-defined]
        self._first = True

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise FetchError("too-large", f"the feed is larger than the {self.cap:,} bytes allowed (feeds.max_bytes)")
        self.parts.append(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        assert self._z is not None
        while data:
            out = self._z.decompress(data, max(1, self.cap - self.size + 1))
            yield out
            data = self._z.unconsumed_tail
            if not out and not data:
                break

    def feed(self, chunk: bytes) -> None:
        if self.mode == "identity":
            self._add(chunk)
            return
        if self._z is None:
            if self.mode == "gzip":
                self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
            else:  # deflate: zlib-wrapped as the RFC says, or raw as some servers send
                raw = not chunk or (chunk[0] & 0x0F) != 8
                self._z = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        try:
            for out in self._inflate(chunk):
                self._add(out)
        except zlib.error as exc:
            raise FetchError("encoding", f"the {self.mode} body is corrupt: {exc}") from exc

    def finish(self) -> None:
        if self._z is not None:
            try:
                self._add(self._z.flush())
            except zlib.error as exc:  # pragma: no cover
                raise FetchError("encoding", f"the {self.mode} body is corrupt: {exc}") from exc

    def value(self) -> bytes:
        return b"".join(self.parts)
