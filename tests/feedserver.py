"""A real HTTP server on 127.0.0.1 serving the fixture feeds in tests/data/feeds/, with the
behaviours the poller must handle: ETag/Last-Modified (304), redirects, 410, 429/503 with
Retry-After, slow and dripping responses, huge bodies, gzip bombs. Import the fixtures into a
test module with `from feedserver import feed_server, feeds_kb  # noqa: F401`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

FEEDS = Path(__file__).parent / "data" / "feeds"
REPO = Path(__file__).parent.parent
LAST_MODIFIED = "Mon, 23 Nov 2026 10:00:00 GMT"
_PLACEHOLDER = re.compile(r"\{\{(rfc822|iso):(\d+)\}\}")

TEST_CONFIG = """\
[feeds]
allow_private = true     # the tests' server is on 127.0.0.1
connect_timeout = 2.0
read_timeout = 1.0       # the slow feed takes longer than this
total_timeout = 3.0      # the dripping feed takes longer than this
parse_timeout = 2.0      # the feed with very long authors takes longer than this to parse
max_bytes = 1048576      # the huge feed is bigger than this
concurrency = 6

[accounts]
test_hashing = true      # Argon2id at its minimum cost: tests make many accounts

# the organisations tests/data/suggest-entries share with
[[organisations]]
slug = "charge-point-operators-forum"
name = "Charge Point Operators Forum"

[[organisations]]
slug = "national-police-chiefs-council"
name = "National Police Chiefs' Council"
"""


def render(name: str) -> bytes:
    """A fixture file with its {{rfc822:N}} / {{iso:N}} dates set to N days ago."""
    data = (FEEDS / name).read_bytes()
    now = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # stable all day

    def stamp(match: re.Match[bytes]) -> bytes:
        when = now - dt.timedelta(days=int(match.group(2)))
        text = email.utils.format_datetime(when, usegmt=True) if match.group(1) == b"rfc822" else when.isoformat()
        return text.encode()

    return re.sub(_PLACEHOLDER.pattern.encode(), stamp, data)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class FeedServer:
    host: str = "127.0.0.1"
    requests: list[Seen] = field(default_factory=list)
    overrides: dict[str, bytes] = field(default_factory=dict)  # path -> body served instead of the file
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self.stop_event = threading.Event()
        self.requested = threading.Event()  # set by the first request: wait on it, never sleep
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"feeds": self})
        self.httpd = ThreadingHTTPServer((self.host, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.handle_error = lambda *_a: None  # type: ignore[method-assign]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    feeds: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        server = self.feeds
        seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
        with server.lock:
            server.requests.append(seen)
            server.requested.set()
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            seen.status = self.route(urlsplit(self.path))
        except (BrokenPipeError, ConnectionResetError):
            seen.status = -1
        finally:
            with server.lock:
                server.in_flight -= 1

    # -- routes ------------------------------------------------------------------------------

    def route(self, url) -> int:  # type: ignore[no-untyped-def]
        path, query = url.path, parse_qs(url.query)
        parts = path.strip("/").split("/")
        head = parts[0]
        if head == "feeds" and len(parts) == 2:
            return self.serve_file(parts[1], etag="noetag" not in query, last_modified="nolm" not in query)
        if head == "lastmod" and len(parts) == 2:
            return self.serve_file(parts[1], etag=False, last_modified=True)
        if head in ("moved", "found", "permanent") and len(parts) == 2:
            code = {"moved": 301, "found": 302, "permanent": 308}[head]
            return self.send_empty(code, {"Location": f"/feeds/{parts[1]}"})
        if head == "redirect":
            return self.send_empty(302, {"Location": query["to"][0]})
        if head == "loop":
            return self.send_empty(302, {"Location": "/loop"})
        if head == "gone":
            return self.send_empty(410)
        if head == "status" and len(parts) == 2:
            extra = {"Retry-After": query["retry_after"][0]} if "retry_after" in query else {}
            return self.send_empty(int(parts[1]), extra)
        if head == "slow":
            self.feeds.stop_event.wait(5)
            return self.serve_file("rss2.xml", etag=False, last_modified=False)
        if head == "drip":
            return self.drip()
        if head == "drip-headers":
            return self.drip_headers()
        if head == "huge":
            return self.huge(declared="declared" in query)
        if head == "authors":
            return self.long_authors()
        if head == "gzip-bomb":
            return self.gzip_bomb()
        if head == "text" and len(parts) == 2:
            return self.send_body(query.get("body", [""])[0].encode(), {"Content-Type": "text/plain"})
        return self.send_empty(404)

    def send_empty(self, code: int, headers: dict[str, str] | None = None) -> int:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return code

    def send_body(self, body: bytes, headers: dict[str, str]) -> int:
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return 200

    def serve_file(self, name: str, etag: bool, last_modified: bool) -> int:
        override = self.feeds.overrides.get(f"/feeds/{name}")
        if override is None and not (FEEDS / name).is_file():
            return self.send_empty(404)
        body = override if override is not None else render(name)
        tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"Content-Type": "application/xml" if name.endswith((".xml", ".rdf")) else "application/octet-stream"}
        if etag:
            headers["ETag"] = tag
        if last_modified:
            headers["Last-Modified"] = LAST_MODIFIED
        if etag and self.headers.get("If-None-Match") == tag:
            return self.send_empty(304, {"ETag": tag})
        if last_modified and not etag and self.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return self.send_empty(304)
        return self.send_body(body, headers)

    def drip(self) -> int:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Drip</title>')
        self.wfile.flush()
        for _ in range(100):
            if self.feeds.stop_event.wait(0.1):
                break
            self.wfile.write(b" ")
            self.wfile.flush()
        self.close_connection = True
        return 200

    def drip_headers(self) -> int:
        """A status line, then one byte of a header every 0.1 s (10 s in all): no read ever waits
        long, so only a total deadline that covers the headers stops it."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        self.wfile.flush()
        for _ in range(100):
            if self.feeds.stop_event.wait(0.1):
                break
            self.wfile.write(b"a")
            self.wfile.flush()
        self.wfile.write(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        self.close_connection = True
        return 200

    def long_authors(self) -> int:
        """Finding 2: feedparser's author handling is super-linear; three 16,000-character
        authors take it some six seconds of CPU."""
        author = b"a" * 16000
        entries = b"".join(
            b"<item><title>Item %d</title><author>%s</author><description>x</description></item>" % (i, author)
            for i in range(3)
        )
        body = (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Authors</title>' + entries + b"</channel></rss>"
        )
        return self.send_body(body, {"Content-Type": "application/xml"})

    def huge(self, declared: bool) -> int:
        item = b"<item><title>Filler</title><description>" + b"x" * 4000 + b"</description></item>\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        if declared:
            self.send_header("Content-Length", str(50 * 1024 * 1024))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>')
        for _ in range(1000 if not declared else 1):  # ~4 MB, more than the test cap
            self.wfile.write(item)
        self.close_connection = True
        return 200

    def gzip_bomb(self) -> int:
        body = gzip.compress(b"<rss>" + b" " * (64 * 1024 * 1024), compresslevel=9)
        return self.send_body(body, {"Content-Type": "application/xml", "Content-Encoding": "gzip"})


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def feeds_kb(tmp_path: Path) -> Path:
    """A knowledge base of 15 real entries (a frozen copy of the first shipped ones, so that
    new or edited shipped notes never change what these tests expect), no feeds, a test config."""
    root = tmp_path / "kb"
    shutil.copytree(REPO / "tests" / "data" / "suggest-entries", root / "entries")
    (root / "feeds").mkdir()
    (root / "feeds" / "feeds.yaml").write_text("# Test feeds.\nfeeds:\n")
    (root / "config.toml").write_text(TEST_CONFIG)
    return root


def feed_yaml(entries: list[tuple[str, str]], interval: int = 60) -> str:
    """feeds.yaml text for (url, title) pairs."""
    lines = ["# Test feeds.", "feeds:"]
    for url, title in entries:
        lines += [
            f"  - url: {url}",
            f"    title: {title}",
            "    tags: [test]",
            f"    interval: {interval}",
            "    enabled: true",
        ]
    return "\n".join(lines) + "\n"
