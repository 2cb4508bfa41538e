"""kb.fetch against a real HTTP server on 127.0.0.1: conditional GET, redirects, caps,
timeouts, and the address guard (which must refuse before any byte is sent)."""

from __future__ import annotations

import calendar
import ipaddress
from dataclasses import replace
from urllib.parse import quote

import pytest
from feedserver import LAST_MODIFIED, feed_server  # noqa: F401

from kb.config import FeedSettings
from kb.feeds import fetch
from kb.feeds.fetch import Fetcher, FetchError

SETTINGS = FeedSettings(
    allow_private=True, connect_timeout=2.0, read_timeout=1.0, total_timeout=3.0, max_bytes=1024 * 1024, concurrency=4
)


@pytest.fixture
def fetcher():
    with Fetcher(SETTINGS) as f:
        yield f


@pytest.fixture
def guarded():
    with Fetcher(FeedSettings(allow_private=False, connect_timeout=2.0, read_timeout=1.0)) as f:
        yield f


def test_conditional_get_with_etag_then_last_modified(fetcher, feed_server):  # noqa: F811
    first = fetcher.fetch(feed_server.url("/feeds/rss2.xml"))
    assert first.status == 200 and first.body.startswith(b"<?xml") and first.etag
    again = fetcher.fetch(feed_server.url("/feeds/rss2.xml"), etag=first.etag, last_modified=first.last_modified)
    assert again.status == 304 and again.body is None
    assert feed_server.requests[-1].headers["if-none-match"] == first.etag
    lm = fetcher.fetch(feed_server.url("/lastmod/atom.xml"))
    assert lm.etag is None and lm.last_modified == LAST_MODIFIED
    assert fetcher.fetch(feed_server.url("/lastmod/atom.xml"), last_modified=lm.last_modified).status == 304


def test_permanent_and_temporary_redirects(fetcher, feed_server):  # noqa: F811
    moved = fetcher.fetch(feed_server.url("/moved/rss2.xml"))
    assert moved.status == 200 and moved.permanent_url == feed_server.url("/feeds/rss2.xml")
    assert fetcher.fetch(feed_server.url("/permanent/rss2.xml")).permanent_url == feed_server.url("/feeds/rss2.xml")
    found = fetcher.fetch(feed_server.url("/found/rss2.xml"))
    assert found.status == 200 and found.permanent_url is None and found.final_url.endswith("/feeds/rss2.xml")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher.fetch(feed_server.url("/loop"))


def test_statuses_come_back_with_retry_after(fetcher, feed_server):  # noqa: F811
    gone = fetcher.fetch(feed_server.url("/gone"))
    assert gone.status == 410 and gone.body is None
    busy = fetcher.fetch(feed_server.url("/status/429?retry_after=120"))
    assert busy.status == 429 and busy.retry_after() == 120
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert fetch.parse_retry_after(date, now=calendar.timegm((2015, 10, 21, 7, 27, 0))) == pytest.approx(60)
    assert fetch.parse_retry_after("soon") is None


def test_slow_and_dripping_servers_time_out(fetcher, feed_server):  # noqa: F811
    # The servers hold out for 5 and 10 s; the limits below are far shorter, so the fetch fails
    # only if the limits work (nothing here measures time).
    with pytest.raises(FetchError, match="timed out") as slow:
        fetcher.fetch(feed_server.url("/slow"))  # nothing for 5 s: the 1 s read timeout
    assert slow.value.kind == "timeout"
    with (
        Fetcher(replace(SETTINGS, total_timeout=1.5)) as short,
        pytest.raises(FetchError, match="longer than 1.5 s|timed out") as drip,
    ):
        short.fetch(feed_server.url("/drip"))  # a body byte every 0.1 s: never a read timeout
    assert drip.value.kind == "timeout"


def test_finding_3_total_timeout_holds_while_headers_arrive(feed_server):  # noqa: F811
    # One header byte every 0.1 s for 10 s: each read is quick, the whole is not.
    with Fetcher(replace(SETTINGS, total_timeout=1.0)) as short, pytest.raises(FetchError) as drip:
        short.fetch(feed_server.url("/drip-headers"))
    assert drip.value.kind == "timeout"


def test_finding_7_a_redirect_to_javascript_is_one_clear_error(fetcher, feed_server):  # noqa: F811
    for target in ("javascript:alert(1)", "javascript://x/%0aalert(1)"):
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(feed_server.url("/redirect?to=" + quote(target, safe="")))
        assert caught.value.kind in ("invalid", "refused")


@pytest.mark.parametrize("target", ["192.0.0.192", "192.0.0.8", "198.18.0.1", "240.0.0.1"])
def test_finding_4_special_purpose_addresses_are_refused_at_connect(guarded, feed_server, monkeypatch, target):  # noqa: F811
    real = fetch.is_public_address
    monkeypatch.setattr(
        fetch, "is_public_address", lambda ip: ip == ipaddress.ip_address("127.0.0.1") or real(ip)
    )  # pretend the test server is public: only the redirect's target is judged
    with pytest.raises(FetchError, match=f"refused to connect to {target}") as caught:
        guarded.fetch(feed_server.url(f"/redirect?to=http://{target}:{feed_server.port}/feeds/rss2.xml"))
    assert caught.value.kind == "refused"


def test_body_caps_streamed_declared_and_compressed(fetcher, feed_server):  # noqa: F811
    for path, message in (
        ("/huge", "larger than"),
        ("/huge?declared=1", "52,428,800 bytes"),
        ("/gzip-bomb", "larger than"),
    ):
        with pytest.raises(FetchError, match=message) as caught:
            fetcher.fetch(feed_server.url(path))
        assert caught.value.kind == "too-large"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "0x7f.0.0.1", "2130706433", "017700000001", "127.1", "[::ffff:127.0.0.1]", "[::1]"],
)
def test_private_addresses_are_refused_before_connecting(guarded, feed_server, host):  # noqa: F811
    with pytest.raises(FetchError, match="refused to connect") as caught:
        guarded.fetch(f"http://{host}:{feed_server.port}/feeds/rss2.xml")
    assert caught.value.kind == "refused"
    assert feed_server.requests == []


def test_redirect_hops_are_checked_too(guarded, feed_server, monkeypatch):  # noqa: F811
    # Pretend 127.0.0.1 is public: the first hop is allowed, the hop to 127.0.0.2 is not.
    monkeypatch.setattr(fetch, "is_public_address", lambda ip: ip == ipaddress.ip_address("127.0.0.1"))
    assert guarded.fetch(feed_server.url("/feeds/rss2.xml")).status == 200
    target = f"http://127.0.0.2:{feed_server.port}/feeds/rss2.xml"
    with pytest.raises(FetchError, match="refused to connect to 127.0.0.2"):
        guarded.fetch(feed_server.url(f"/redirect?to={target}"))
    with pytest.raises(FetchError, match="only http and https"):
        guarded.fetch(feed_server.url("/redirect?to=file:///etc/passwd"))
    assert [r.path.split("?")[0] for r in feed_server.requests] == ["/feeds/rss2.xml", "/redirect", "/redirect"]


def test_only_http_and_https(fetcher):
    for url in ("file:///etc/passwd", "ftp://example.com/feed", "gopher://example.com/"):
        with pytest.raises(FetchError, match="only http and https"):
            fetcher.fetch(url)


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::1", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
        ("192.0.0.192", False),  # finding 4: IETF protocol assignments, is_global was wrong here
        ("192.0.0.9", False),
        ("::ffff:192.0.0.192", False),
        ("64:ff9b::c000:c0", False),  # NAT64 form of 192.0.0.192
        ("2002:c000:c0::1", False),  # 6to4 form of 192.0.0.192
        ("3fff::1", False),  # documentation, RFC 9637
        ("2001:db8::1", False),
        ("5f00::1", False),
        ("100::1", False),
        ("198.51.100.7", False),
        ("64:ff9b::808:808", True),  # NAT64 form of 8.8.8.8
        ("2002:808:808::1", True),  # 6to4 form of 8.8.8.8
    ],
)
def test_public_address_rule(address, public):
    assert fetch.is_public_address(ipaddress.ip_address(address)) is public
