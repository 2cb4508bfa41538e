import pytest

from kb import clock
from kb.accounts import ADDRESS_MAX_FAILURES, Accounts, RateLimited
from kb.errors import KbError

PW = "correct horse battery"


@pytest.fixture
def accounts(ws):
    return Accounts(ws.store, ws.cfg.accounts)  # test_hashing: Argon2id at its minimum cost


def test_production_hashes_use_argon2id_at_full_cost(ws):
    assert not Accounts(ws.store).hasher.check_needs_rehash(Accounts(ws.store).hasher.hash("a long enough password"))
    full = Accounts(ws.store).add("full@example.org", PW, "staff")
    row = Accounts(ws.store).db["users"].get(full.id)
    assert "$argon2id$" in row["password_hash"] and "m=65536,t=3" in row["password_hash"]


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


def test_failures_from_one_address_across_accounts_are_throttled(accounts):
    accounts.add("s@example.org", PW, "staff")
    for i in range(ADDRESS_MAX_FAILURES):  # a different account each time: the per-account rule never fires
        assert accounts.authenticate(f"v{i}@example.org", "wrong password!", at=1000.0 + i, address="192.0.2.1") is None
    with pytest.raises(RateLimited) as refused:
        accounts.authenticate("s@example.org", PW, at=1030.0, address="192.0.2.1")
    assert refused.value.wait == "ten minutes"
    assert accounts.authenticate("s@example.org", PW, at=1030.0, address="192.0.2.2") is not None
    assert accounts.authenticate("s@example.org", PW, at=1000.0 + 601, address="192.0.2.1") is not None


def test_sign_in_throttling_reads_kb_clock(accounts):
    accounts.add("s@example.org", PW, "staff")
    with clock.frozen("2026-03-01T09:00:00"):
        for _ in range(5):
            assert accounts.authenticate("s@example.org", "wrong password!") is None
        with pytest.raises(RateLimited):
            accounts.authenticate("s@example.org", PW)
    with clock.frozen("2026-03-01T09:01:01"):
        assert accounts.authenticate("s@example.org", PW) is not None


def test_sessions_live_on_the_server(accounts):
    user = accounts.add("s@example.org", PW, "staff")
    first, second = accounts.start_session(user), accounts.start_session(user)
    assert first != second and accounts.session_user(first).id == user.id
    assert first not in str(list(accounts.db["sessions"].rows))  # only the token's hash is stored
    accounts.end_session(first)
    assert accounts.session_user(first) is None and accounts.session_user(second).id == user.id
    assert accounts.session_user("") is None and accounts.session_user("forged") is None
    accounts.reset_password("s@example.org", "another long passphrase")
    assert accounts.session_user(second) is None
    third = accounts.start_session(accounts.by_email("s@example.org"))
    accounts.disable("s@example.org")
    accounts.enable("s@example.org")
    assert accounts.session_user(third) is None and accounts.db["sessions"].count == 0


def test_a_session_from_before_an_epoch_bump_is_refused(accounts):
    user = accounts.add("s@example.org", PW, "staff")
    token = accounts.start_session(user)
    accounts.db["users"].update(user.id, {"session_epoch": user.session_epoch + 1})
    assert accounts.session_user(token) is None


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
