import pytest

from kb.accounts import Accounts, RateLimited
from kb.errors import KbError

PW = "correct horse battery"


@pytest.fixture
def accounts(ws):
    return Accounts(ws.store)


def test_add_and_authenticate(accounts):
    user = accounts.add("Ann@Example.org", PW, "partner", org="org-a")
    assert user.email == "ann@example.org" and user.org == "org-a"
    row = accounts.db["users"].get(user.id)
    assert PW not in row["password_hash"] and row["password_hash"].startswith("$argon2id$")
    assert accounts.authenticate("ann@example.org", PW).id == user.id
    assert accounts.authenticate("ann@example.org", "wrong password!") is None
    assert accounts.authenticate("nobody@example.org", PW) is None


@pytest.mark.parametrize(
    ("email", "password", "role", "org", "words"),
    [
        ("not-an-email", PW, "staff", None, "not an email"),
        ("a@b.org", "short", "staff", None, "at least 12"),
        ("a@b.org", PW, "partner", None, "belongs to an organisation"),
        ("a@b.org", PW, "partner", "Org A", "slug"),
        ("a@b.org", PW, "boss", None, "role must be"),
    ],
)
def test_bad_accounts_are_refused(accounts, email, password, role, org, words):
    with pytest.raises(KbError, match=words):
        accounts.add(email, password, role, org=org)


def test_sixth_wrong_attempt_in_a_minute_is_refused_even_when_right(accounts):
    accounts.add("s@example.org", PW, "staff")
    for i in range(5):
        assert accounts.authenticate("s@example.org", "wrong password!", at=1000.0 + i) is None
    with pytest.raises(RateLimited):
        accounts.authenticate("s@example.org", PW, at=1006.0)
    assert accounts.authenticate("s@example.org", PW, at=1070.0) is not None


def test_disable_signs_out_and_revokes_feed_token(accounts):
    user = accounts.add("p@example.org", PW, "partner", org="org-a")
    assert accounts.by_feed_token(user.feed_token).id == user.id
    disabled = accounts.disable("p@example.org")
    assert disabled.session_epoch == user.session_epoch + 1
    assert accounts.by_feed_token(user.feed_token) is None
    assert accounts.authenticate("p@example.org", PW) is None
    assert [a["action"] for a in accounts.audit()][:2] == ["user.disable", "user.add"]


def test_users_cli(kb):
    added = kb("users", "add", "admin@example.org", "--role", "admin", "--password-stdin", input=PW + "\n")
    assert added.exit_code == 0, added.output
    listing = kb("users", "list")
    assert "admin@example.org" in listing.output and "active" in listing.output
    dup = kb("users", "add", "admin@example.org", "--role", "admin", "--password-stdin", input=PW + "\n")
    assert dup.exit_code == 1 and "already exists" in dup.output
    assert kb("users", "disable", "admin@example.org").exit_code == 0
    assert "disabled" in kb("users", "list").output
    missing = kb("users", "disable", "ghost@example.org")
    assert missing.exit_code == 1 and "no user" in missing.output
    assert kb("users", "reset-password", "admin@example.org", "--password-stdin", input="x\n").exit_code == 1
