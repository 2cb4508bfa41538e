"""Finding 6 and the fuzz test: every query the parser accepts runs, and every other gets a
one-line message; no 500 on the site or the API, no traceback on the command line."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from click.testing import CliRunner
from site_fixtures import app, client, site_root, site_ws  # noqa: F401

from kb.cli.main import main

NAUGHTY = Path(__file__).parents[1] / "data" / "naughty-queries.txt"


def naughty() -> list[str]:
    out = []
    for line in NAUGHTY.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            out.append(codecs.decode(line, "unicode_escape") if "\\x" in line or "\\u" in line else line)
    return out


QUERIES = naughty()


def test_the_list_is_long_and_hostile():
    assert len(QUERIES) >= 140 and any("\x1b" in q for q in QUERIES) and any(len(q) > 4000 for q in QUERIES)


def test_finding_6_a_quoted_phrase_with_a_comma_is_not_a_500(client):  # noqa: F811
    for path in ("/search?q=%22a,b%20c%22", "/api/search?q=%22a,b%20c%22", "/search?q=%22drone,prison%20attack%22"):
        assert client.get(path).status_code == 200, path


def test_every_naughty_query_gets_a_page_or_a_message(client):  # noqa: F811
    for q in QUERIES:
        page = client.get("/search", query_string={"q": q})
        api = client.get("/api/search", query_string={"q": q})
        assert page.status_code in (200, 400), repr(q)
        assert api.status_code in (200, 400), repr(q)
        if api.status_code == 400:
            assert "\n" not in api.get_json()["error"].strip(), repr(q)


@pytest.mark.parametrize("q", ['"a,b c"', "(((", "unknownfield:x", "\x1b[2J", "drone^1e308", "a" * 5000])
def test_kb_search_never_prints_a_traceback(site_root, site_ws, q):  # noqa: F811
    result = CliRunner().invoke(main, ["--root", str(site_root), "search", q])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
