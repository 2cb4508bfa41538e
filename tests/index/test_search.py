import pytest

from kb.errors import QueryError
from kb.sync import update_index


def slugs(ws, query, **kw):
    return sorted(h.slug for h in ws.index.search(query, **kw).hits)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("drone", ["prison-drones"]),  # stemmed: matches "drones"
        ('"exercise yards"', ["prison-drones"]),
        ("prisons AND firearms", []),
        ("quadcopter OR firearms", ["printed-guns", "prison-drones"]),
        ("printed NOT drones", ["printed-guns"]),
        ("sector:prisons", ["prison-drones"]),
        ("sectors:policing", ["printed-guns"]),
        ("tag:robotics", ["draft-robots", "prison-drones"]),
        ("quadcop*", ["prison-drones"]),
        ("status:draft", ["draft-robots"]),
        ("risks:smuggling", ["prison-drones"]),
        ("measures:geofence", ["prison-drones"]),
    ],
)
def test_query_language(ws, query, expected):
    assert slugs(ws, query) == expected


def test_title_outranks_body(ws):
    path = ws.cfg.entries_dir / "printed-guns.md"
    path.write_text(path.read_text() + "\nDrones are sometimes used to deliver printed parts.\n")
    update_index(ws)
    hits = ws.index.search("drones").hits
    assert [h.slug for h in hits][:2] == ["prison-drones", "printed-guns"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ('"unclosed phrase', "unbalanced quotes"),
        ("(drones OR guns", "unbalanced brackets"),
        ("colour:red", "unknown field 'colour'"),
        ("   ", "type something"),
    ],
)
def test_bad_queries_give_readable_errors(ws, query, words):
    with pytest.raises(QueryError, match=words):
        ws.index.search(query)


def test_snippets_highlight_and_escape(ws):
    path = ws.cfg.entries_dir / "printed-guns.md"
    path.write_text(path.read_text() + "\n<b>bold</b> zebrafish & <script>x()</script>\n")
    update_index(ws)
    body = path.read_text()
    hit = ws.index.search("zebrafish", snippet_text=lambda h: body).hits[0]
    assert "<mark>zebrafish</mark>" in hit.snippet
    assert "<script>" not in hit.snippet and "&lt;" in hit.snippet


def test_facets_and_refinement(ws):
    results = ws.index.search("drones OR firearms OR robots OR zanzibar", facets=["sector", "horizon"])
    assert results.facets["sector"]["prisons"] == 1
    assert results.facets["horizon"]["now"] == 2
    refined = ws.index.search("drones OR firearms", refine={"sector": "policing"})
    assert [h.slug for h in refined.hits] == ["printed-guns"]


def test_pagination(ws):
    first = ws.index.search("tag:robotics OR tag:firearms OR tag:vehicles", per_page=2, page=1)
    second = ws.index.search("tag:robotics OR tag:firearms OR tag:vehicles", per_page=2, page=2)
    assert first.total == 4 and first.pages == 2
    assert len(first.hits) == 2 and len(second.hits) == 2
    assert not {h.slug for h in first.hits} & {h.slug for h in second.hits}


def test_total_counts_only_what_the_audience_may_see(ws):
    # Whoosh's own count ignores the filter once a page is full; two of the four are public.
    from kb.model.access import PUBLIC

    query = "tag:robotics OR tag:firearms OR tag:vehicles OR tag:drones"
    assert ws.index.search(query).total == 4
    for per_page in (1, 2, 10):
        results = ws.index.search(query, audience=PUBLIC, per_page=per_page)
        assert results.total == 2 and results.pages == -(-2 // per_page)


def test_finding_7_a_failed_index_commit_releases_the_lock(ws, monkeypatch):
    from whoosh.writing import SegmentWriter

    def broken(self, *a, **k):
        raise OSError("No space left on device")

    with monkeypatch.context() as m:
        m.setattr(SegmentWriter, "commit", broken)
        with pytest.raises(OSError), ws.index.writer() as w:
            w.delete("entry:nothing")
    with ws.index.writer() as w:  # at once: not Busy, not a LockError
        w.delete("entry:nothing")
