"""Issue 15: "what changed since your last visit" for signed-in readers.

The knowledge base is the site fixture, indexed on 1 March 2026 at ten; each test visits the site
at frozen times, changes entry files, indexes again on a later day and visits again. A visit is
recorded at most once an hour, and the reader's last visit is the one before the visit going on.
"""

from __future__ import annotations

import datetime as dt

import pytest
from auth_helpers import AuthActions
from dated_site import app, auth, root, sync  # noqa: F401
from flask import Flask
from flask.testing import FlaskClient
from site_fixtures import edit

from kb import clock
from kb.store import Store

MARK = "since your last visit"
CONTRABAND = "Likelihood of &#34;Delivery of contraband into prisons&#34; lowered from 5 to 4"


@pytest.fixture
def readers(app: Flask, auth: AuthActions) -> dict[str, FlaskClient]:
    clients = {"public": app.test_client()}
    for who in ("partner_a", "partner_b"):
        clients[who] = app.test_client()
        with clock.frozen("2026-03-01T09:00:00"):
            auth.sign_in(clients[who], who)
    return clients


def store(app: Flask) -> Store:
    return app.extensions["kb"].workspace.store


def get(client: FlaskClient, url: str, at: str, **kwargs):  # type: ignore[no-untyped-def]
    with clock.frozen(at):
        response = client.get(url, **kwargs)
    assert response.status_code in (200, 304), (url, response.status_code)
    return response


def page(client: FlaskClient, url: str, at: str) -> str:
    return get(client, url, at).get_data(as_text=True)


def recent_item(home: str, title: str) -> str:
    """The home page's 'New and updated' entry for one note."""
    recent = home.split("New and updated")[1].split("Highest risks")[0]
    return next(li for li in recent.split("<li") if f">{title}</a>" in li)


def test_finding_2_home_marks_only_the_notes_changed_since_the_previous_visit(root, app, readers):
    partner = readers["partner_a"]
    assert MARK not in page(partner, "/", "2026-03-01T12:00:00")  # the first visit: nothing to compare with
    edit(root, "prison-drones", "likelihood: 5", "likelihood: 4")
    sync(root, "02")
    home = page(partner, "/", "2026-03-02T12:00:00")
    assert "Changed since your last visit on 1 March 2026" in recent_item(home, "Prison drones")
    assert MARK not in recent_item(home, "3D-printed firearms")
    assert home.count(MARK) == 1
    # the same visit, half an hour later: still compared with 1 March
    assert "Changed since your last visit on 1 March 2026" in page(partner, "/", "2026-03-02T12:30:00")
    # a new visit: the last one (2 March, after the change) has seen it
    assert MARK not in page(partner, "/", "2026-03-02T14:00:00")


def test_finding_2_a_note_page_says_what_changed_since_the_previous_visit(root, app, readers):
    partner = readers["partner_a"]
    page(partner, "/entries/printed-guns", "2026-03-01T12:00:00")
    edit(root, "prison-drones", "likelihood: 5", "likelihood: 4")
    sync(root, "02")
    note = page(partner, "/entries/prison-drones", "2026-03-03T09:00:00")
    box = note.split('id="since-last-visit"')[1].split("</div>")[0]
    assert "Changed since your last visit on 1 March 2026" in box and CONTRABAND in box
    assert 'id="since-last-visit"' not in page(partner, "/entries/printed-guns", "2026-03-03T09:05:00")  # unchanged


def test_finding_2_anonymous_readers_never_see_or_record_a_visit(root, app, readers):
    public = readers["public"]
    page(public, "/", "2026-03-01T12:00:00")
    edit(root, "prison-drones", "likelihood: 5", "likelihood: 4")
    sync(root, "02")
    for url in ("/", "/entries/prison-drones"):
        assert MARK not in page(public, url, "2026-03-02T12:00:00")
    assert store(app).db.execute("SELECT count(*) FROM visits").fetchone()[0] == 0


def test_finding_2_one_readers_marks_never_reach_another_reader(root, app, readers):
    """Signed-in pages are rendered per request, and the ETag holds the last visit: no page or
    304 of one reader is ever another's."""
    a, b, public = readers["partner_a"], readers["partner_b"], readers["public"]
    page(a, "/", "2026-03-01T12:00:00")
    edit(root, "amber-locks", "likelihood: 5", "likelihood: 4")
    sync(root, "02")
    first = get(a, "/", "2026-03-02T12:00:00")
    assert "Changed since your last visit" in recent_item(first.get_data(as_text=True), "Amberlock smart locks")
    for client in (b, public):  # b has never visited; neither may read the AMBER note
        again = get(client, "/", "2026-03-02T12:00:00", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and MARK not in again.get_data(as_text=True)
        assert "Amberlock" not in again.get_data(as_text=True)
    # a's own copy, once its last visit has moved on, is not current any more
    later = get(a, "/", "2026-03-02T14:00:00", headers={"If-None-Match": first.headers["ETag"]})
    assert later.status_code == 200 and MARK not in later.get_data(as_text=True)


def test_finding_2_a_visit_is_recorded_at_most_once_an_hour(root, app, auth, readers):
    partner, user = readers["partner_a"], auth.user("partner_a")
    s = store(app)
    for minute in ("00", "20", "40", "59"):
        page(partner, "/", f"2026-03-02T12:{minute}:00")
    assert s.last_visit(user.id) == dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    page(partner, "/entries/prison-drones", "2026-03-02T13:00:00")  # an hour on: a new visit
    assert s.last_visit(user.id) == dt.datetime(2026, 3, 2, 13, tzinfo=dt.UTC)
    page(partner, "/", "2026-03-05T08:00:00")
    rows = s.db.execute("SELECT seen_at FROM visits WHERE user_id = ? ORDER BY seen_at", [user.id]).fetchall()
    assert [r[0] for r in rows] == ["2026-03-02T13:00:00+00:00", "2026-03-05T08:00:00+00:00"]  # two kept
    assert s.last_visit(user.id, before=s.last_visit(user.id)) == dt.datetime(2026, 3, 2, 13, tzinfo=dt.UTC)
    assert s.last_visit(auth.user("partner_b").id) is None
