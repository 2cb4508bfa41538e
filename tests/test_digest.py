"""Email digests, sent to a real SMTP server on 127.0.0.1 (aiosmtpd) and read back from it."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from auth_helpers import PASSWORD, AuthActions
from site_fixtures import CANARIES, edit, site_root  # noqa: F401
from test_mail import Inbox, mail_section, smtp  # noqa: F401

from kb import clock, digest
from kb.accounts import Accounts
from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace

ANN, BOB = "ann@org-a.example", "bob@org-b.example"
EPOCH = "2000-01-01T00:00:00+00:00"  # subscribed long before any note
DAY = dt.timedelta(days=1)


@pytest.fixture
def kb(site_root, smtp):  # noqa: F811
    inbox, port = smtp
    with (site_root / "config.toml").open("a") as fh:
        fh.write(mail_section(port))
    ws = Workspace.open(site_root)
    accounts = Accounts(ws.store, ws.cfg.accounts)
    subs = digest.Subscriptions(ws.store)
    for address, org in ((ANN, "org-a"), (BOB, "org-b")):
        user = accounts.add(address, PASSWORD, "partner", org=org)
        subs.save(user.id, "daily", everything=True, since=EPOCH)
    yield ws, inbox
    ws.close()


def body(message) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")


def test_digest_for_two_partners_shows_each_only_what_they_may_read(kb):
    ws, inbox = kb
    with clock.frozen(clock.utcnow() + DAY):
        report = digest.run(ws)
    assert sorted(report.sent) == [ANN, BOB] and report.failed == []
    [ann], [bob] = inbox.to(ANN), inbox.to(BOB)
    assert "Amberlock smart locks" in body(ann) and "TLP:AMBER" in body(ann)
    assert "TLP:GREEN" in body(bob) and "TLP:CLEAR" in body(bob)
    for word in CANARIES[CANARIES.index("draft-robots") :]:  # draft, AMBER (org-a only), RED, in review
        assert word not in body(bob), word
    assert "Narwhal" not in body(ann) and "Okapi" not in body(ann)  # RED and in review: staff only
    assert ann.get_body(("html",)) is not None and ann.get_body(("plain",)) is not None


def test_nothing_is_sent_when_nothing_changed(kb):
    ws, inbox = kb
    with clock.frozen(clock.utcnow() + DAY):
        digest.run(ws)
    with clock.frozen(clock.utcnow() + 2 * DAY):
        report = digest.run(ws)
    assert report.sent == [] and report.empty == 2
    assert len(inbox.messages) == 2


def test_a_digest_is_never_sent_twice_for_one_period(kb):
    ws, inbox = kb
    at = clock.utcnow() + DAY
    with clock.frozen(at):
        assert len(digest.run(ws).sent) == 2
    with clock.frozen(at + dt.timedelta(hours=1)):
        edit(ws.cfg.root, "prison-drones", "title: ", "title: Revised ")
        update_index(ws)
        report = digest.run(ws)
    assert report.sent == [] and report.already == 2
    assert len(inbox.messages) == 2


def test_a_claimed_but_unmarked_digest_is_not_resent_after_a_crash(kb):
    ws, inbox = kb
    later = clock.utcnow() + 3 * DAY
    ann = Accounts(ws.store).by_email(ANN)
    # A run killed after claiming (and perhaps sending) Ann's digest, before marking it sent:
    ws.store.db.execute(
        "INSERT INTO digests_sent (user_id, period, claimed_at) VALUES (?, ?, ?)",
        [ann.id, digest.period("daily", later), later.isoformat(timespec="seconds")],
    )
    ws.store.db.conn.commit()
    with clock.frozen(later):
        report = digest.run(ws)
    assert report.sent == [BOB] and report.already == 1
    assert inbox.to(ANN) == []


def test_dry_run_sends_and_records_nothing(kb):
    ws, inbox = kb
    with clock.frozen(clock.utcnow() + DAY):
        report = digest.run(ws, dry_run=True)
        assert sorted(d.user.email for d in report.dry) == [ANN, BOB]
        assert len(digest.run(ws).sent) == 2  # the dry run claimed nothing
    assert len(inbox.messages) == 2


def test_the_unsubscribe_link_works_and_the_headers_are_there(kb):
    ws, inbox = kb
    with clock.frozen(clock.utcnow() + DAY):
        digest.run(ws)
    [message] = inbox.to(ANN)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = "".join(message["List-Unsubscribe"].split()).strip("<>")
    assert url in body(message)
    path = urlsplit(url).path
    app = create_app(ws.cfg.root, {"TESTING": True})
    try:
        client = app.test_client()
        page = client.get(path)
        assert page.status_code == 200 and "Unsubscribe from email digests?" in page.get_data(as_text=True)
        assert client.post(path).status_code == 200  # no CSRF token: the link is signed
        assert client.get(path[:-3] + "xyz").status_code == 404  # a forged or cut link
    finally:
        app.extensions["kb"].close()
    ann = Accounts(ws.store).by_email(ANN)
    assert digest.Subscriptions(ws.store).get(ann.id) is None


def test_the_account_page_subscribes_to_a_sector(kb):
    ws, _ = kb
    app = create_app(ws.cfg.root, {"TESTING": True})
    try:
        client, auth = app.test_client(), AuthActions(app)
        auth.sign_in(client, "partner_a")
        page = client.get("/account").get_data(as_text=True)
        assert "Email digest" in page and "Sector: " in page
        response = auth.post(
            client, "/account", {"action": "digest", "frequency": "weekly", "sector": ["prisons", "nope"]}
        )
        assert response.status_code == 302
        sub = digest.Subscriptions(ws.store).get(auth.user("partner_a").id)
        assert sub.frequency == "weekly" and sub.sectors == ("prisons",) and not sub.everything
        auth.post(client, "/account", {"action": "digest", "frequency": "daily"})
        assert digest.Subscriptions(ws.store).get(auth.user("partner_a").id) is None
    finally:
        app.extensions["kb"].close()
