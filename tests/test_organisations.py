"""Issue 13, finding 5: `share_with` and `--org` accepted any string, so a typo shared a note with
nobody, or put a partner in an organisation that does not exist. config.toml's `[[organisations]]`
is now the register: `kb validate`, `kb index`, the editor's check and `kb users add` accept only
its slugs, and name the nearest one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import config
from kb.accounts import Accounts
from kb.errors import ConfigError, KbError
from kb.files.form import check
from kb.sync import update_index, validate
from kb.workspace import Workspace

PW = "correct horse battery"
BASE = "[kb]\nreview_days = 365\n\n[accounts]\ntest_hashing = true\n"
ACME = '\n[[organisations]]\nslug = "acme-drones"\nname = "Acme Drones Ltd"\nemail_domain = "acme.example"\n'
NO_REGISTER = "config.toml registers no organisations; add an [[organisations]] table to it"


def amber(root: Path, share_with: str, name: str = "draft-robots.md") -> Path:
    """The draft test entry as TLP:AMBER, shared as `share_with` (the front matter's lines, from line 6)."""
    path = root / "entries" / name
    text = path.read_text(encoding="utf-8").replace("tlp: clear\n", f"tlp: amber\nshare_with: {share_with}\n")
    path.write_text(text, encoding="utf-8")
    return path


def messages(problems) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in problems]


# -- the register in config.toml ------------------------------------------------------------------


def test_finding_5_the_register_is_read_into_the_config(kb_root):
    (kb_root / "config.toml").write_text(BASE + ACME + '\n[[organisations]]\nslug = "org-b"\nname = " Org B "\n')
    cfg = config.load(kb_root)
    assert cfg.organisations == (
        config.Organisation("acme-drones", "Acme Drones Ltd", "acme.example"),
        config.Organisation("org-b", "Org B", None),
    )
    assert cfg.organisation_slugs == {"acme-drones", "org-b"}
    (kb_root / "config.toml").write_text(BASE)
    assert config.load(kb_root).organisations == ()


def test_finding_5_every_problem_in_the_register_is_reported_by_key(kb_root):
    (kb_root / "config.toml").write_text(
        BASE
        + ACME
        + '\n[[organisations]]\nslug = "Acme Drones"\nname = "Shouty"\n'  # 2: not a slug
        + '\n[[organisations]]\nslug = "acme-drones"\nname = "Again"\n'  # 3: registered already
        + '\n[[organisations]]\nname = "No slug"\nemail_domain = "@acme.example"\nwebsite = "x"\n'  # 4
        + '\n[[organisations]]\nslug = 7\nname = ""\n'  # 5
    )
    with pytest.raises(ConfigError) as refused:
        config.load(kb_root)
    text = str(refused.value)
    for expected in (
        "organisations[2].slug: must be a lower-case slug (letters, digits, hyphens) of at most 100 characters, "
        "such as 'acme-drones'; got 'Acme Drones'",
        "organisations[3].slug: 'acme-drones' is registered already, by organisations[1]; register each slug once",
        "organisations[4].website: unknown setting (known: email_domain, name, slug)",
        "organisations[4].slug: is required",
        "organisations[4].email_domain: must be a domain such as 'acme.example' (no @), got '@acme.example'",
        "organisations[5].slug: expected str, got 7",
        "organisations[5].name: must not be empty",
    ):
        assert expected in text
    assert "organisations[1]" not in text.replace("by organisations[1]", "")


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[organisations]\nslug = "a"\nname = "A"\n', "organisations: must be [[organisations]] tables"),
        ('organisations = ["acme-drones"]\n', "organisations[1]: must be a table"),
    ],
)
def test_finding_5_a_register_that_is_not_tables_is_refused(kb_root, toml, words):
    (kb_root / "config.toml").write_text(toml)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        config.load(kb_root)


# -- share_with: kb validate, kb index, the editor ------------------------------------------------


def test_finding_5_a_typo_in_share_with_is_reported_with_its_line_and_the_nearest_slug(kb_root, kb):
    (kb_root / "config.toml").write_text(BASE + ACME)
    amber(kb_root, "[acme-drone]")
    expected = (
        "entries/draft-robots.md:6: share_with names 'acme-drone', which is not in config.toml's "
        "[[organisations]]; did you mean 'acme-drones'?"
    )
    assert messages(validate(config.load(kb_root))[1]) == [expected]
    result = kb("validate")
    assert result.exit_code == 1 and expected in result.output
    ws = Workspace.open(kb_root)
    try:
        assert messages(update_index(ws).problems) == [expected]  # kb index
        assert messages(update_index(ws, rebuild=True).problems) == [expected]  # kb index --rebuild
    finally:
        ws.close()
    path = kb_root / "entries" / "draft-robots.md"
    path.write_text(path.read_text(encoding="utf-8").replace("[acme-drone]", "[acme-drones]"), encoding="utf-8")
    assert messages(validate(config.load(kb_root))[1]) == []


def test_finding_5_each_unknown_item_is_named_on_its_own_line(kb_root):
    amber(kb_root, "\n  - org-a\n  - org-a\n  - org-aa\n  - zzz-unrelated\n  - org-b")
    assert messages(validate(config.load(kb_root))[1]) == [
        "entries/draft-robots.md:8: warning: share_with lists 'org-a' twice",
        "entries/draft-robots.md:9: share_with names 'org-aa', which is not in config.toml's [[organisations]]; "
        "did you mean 'org-a'?",
        "entries/draft-robots.md:10: share_with names 'zzz-unrelated', which is not in config.toml's "
        "[[organisations]]; add it there, or fix the slug",
    ]


def test_finding_5_with_no_register_share_with_is_refused_and_says_to_add_one(kb_root, kb):
    (kb_root / "config.toml").write_text(BASE)
    amber(kb_root, "org-a")  # one slug, not a list
    result = kb("validate")
    assert result.exit_code == 1
    assert (
        "entries/draft-robots.md:6: share_with names 'org-a', but config.toml registers no organisations; "
        'add an [[organisations]] table to it (slug = "org-a", name = "...") first'
    ) in result.output


def test_finding_5_the_editor_check_names_the_share_with_field(kb_root):
    path = amber(kb_root, "[org-a, org-bb]")
    text = path.read_text(encoding="utf-8")
    found = check(path, text, display="entries/draft-robots.md", orgs={"org-a", "org-b"})
    assert [(p.field, p.line, p.severity, p.message) for p in found] == [
        (
            "share_with",
            6,
            "error",
            "share_with names 'org-bb', which is not in config.toml's [[organisations]]; did you mean 'org-b'?",
        )
    ]
    assert check(path, text, orgs={"org-a", "org-bb"}) == []
    assert check(path, text) == []  # no register given: not checked (the callers pass it)
    assert "registers no organisations" in check(path, text, orgs=set())[0].message


# -- kb users add --org ---------------------------------------------------------------------------


def test_finding_5_users_add_refuses_an_unregistered_org_with_the_nearest_slug(kb_root, kb):
    (kb_root / "config.toml").write_text(BASE + ACME)
    result = kb("users", "add", "ann@acme.example", "--role", "partner", "--org", "acme-drone", "--password-stdin")
    assert result.exit_code == 1
    assert (
        "organisation 'acme-drone' is not in config.toml's [[organisations]]; did you mean 'acme-drones'?"
    ) in result.output
    assert "ann@acme.example" not in kb("users", "list").output
    added = kb(
        "users", "add", "ann@acme.example", "--role", "partner", "--org", "acme-drones", "--password-stdin", input=PW
    )
    assert added.exit_code == 0 and "added ann@acme.example (partner, acme-drones)" in added.output
    assert "warning" not in added.output


def test_finding_5_with_no_register_users_add_org_is_refused(kb_root, kb):
    (kb_root / "config.toml").write_text(BASE)
    result = kb("users", "add", "ann@org-a.example", "--role", "partner", "--org", "org-a", "--password-stdin")
    assert result.exit_code == 1
    assert "config.toml registers no organisations; add an [[organisations]] table to it" in result.output
    assert kb("users", "add", "sam@kb.example", "--role", "staff", "--password-stdin", input=PW).exit_code == 0


def test_finding_5_an_address_outside_the_email_domain_is_warned_about_not_refused(kb_root, kb):
    (kb_root / "config.toml").write_text(BASE + ACME)
    result = kb(
        "users", "add", "ann@gmail.example", "--role", "partner", "--org", "acme-drones", "--password-stdin", input=PW
    )
    assert result.exit_code == 0 and "added ann@gmail.example (partner, acme-drones)" in result.output
    assert (
        "warning: ann@gmail.example is not an address at acme.example, the email domain of 'acme-drones' "
        "(Acme Drones Ltd); check the address and the organisation"
    ) in result.output
    sub = kb(
        "users", "add", "bo@uk.acme.example", "--role", "partner", "--org", "acme-drones", "--password-stdin", input=PW
    )
    assert sub.exit_code == 0 and "warning" not in sub.output  # a subdomain is the organisation's


def test_finding_5_accounts_add_checks_the_register_it_is_given(ws):
    accounts = Accounts(ws.store, ws.cfg.accounts)
    register = ws.cfg.organisations  # conftest's: org-a and org-b
    with pytest.raises(KbError, match="organisation 'org-c' is not in config.toml's .*; did you mean 'org-"):
        accounts.add("c@org-c.example", PW, "partner", org="org-c", organisations=register)
    with pytest.raises(KbError, match=NO_REGISTER.replace("[", r"\[").replace("]", r"\]")):
        accounts.add("a@org-a.example", PW, "partner", org="org-a", organisations=())
    assert accounts.by_email("c@org-c.example") is None and accounts.by_email("a@org-a.example") is None
    warned: list[str] = []
    user = accounts.add("a@elsewhere.example", PW, "partner", org="org-a", organisations=register, warn=warned.append)
    assert user.org == "org-a" and len(warned) == 1 and "not an address at org-a.example" in warned[0]


def test_finding_5_the_editor_refuses_an_unregistered_organisation(tmp_path):
    from kb.files import editor

    path = tmp_path / "entries" / "n.md"
    path.parent.mkdir()
    path.write_text(
        "---\ntitle: N\nsummary: S.\nstatus: draft\ntlp: amber\nshare_with: [org-a]\ncategory: devices\n"
        "horizon: now\nmaturity: growing\nreviewed: 2026-01-01\n---\nBody\n"
    )
    values, sha = editor.open_entry(path)
    values["share_with"] = "org-x"
    outcome = editor.save(path, values, sha, known={"n"}, orgs={"org-a", "org-b"})
    assert outcome.status == "invalid"
    assert any(p.field == "share_with" and "did you mean" in p.message for p in outcome.problems)
