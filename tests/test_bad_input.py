"""Finding 10 (issue 12), bad input: every bad value is refused where it is read, as
`FILE:LINE: message` for an entry and by key for `config.toml`; the site is never given one;
and `kb` turns any error it did not foresee into one line and a log file, never a traceback.

Each case goes through the real CLI (`kb validate`, `kb index`, `kb search`) on a real
knowledge base in a temporary folder. Every command runs under a deadline the test does not
measure, so a case that used to hang fails instead of stopping the suite.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import DATA

from kb import clock, config
from kb.cli.context import Context, KbGroup
from kb.cli.main import main
from kb.errors import ConfigError
from kb.model.entry import read_entry
from kb.model.frontmatter import FrontMatterError, parse
from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace

DEADLINE = 120  # seconds; far more than any case needs, so a hang fails instead of stalling
TODAY = "2026-12-02T12:00:00+00:00"  # the clock for every case: a year on is 2027-12-02
GOOD = (DATA / "entries" / "prison-drones.md").read_text()
BAD = "bad-input"  # the file each entry case writes, entries/bad-input.md


def swap(old: str, new: str) -> str:
    """prison-drones.md with one change."""
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def bomb(levels: int = 9) -> str:
    """Billion laughs: each level nine aliases of the one before, 9**levels values in all."""
    names = "abcdefghijklmnop"[:levels]
    lines = [f"{names[0]}: &{names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip(names, names[1:], strict=False)]
    return "---\n" + "\n".join(lines) + "\ntitle: Laughs\n---\n"


# (id, the file's content, the line, what the message says). Lines of prison-drones.md:
# 2 title, 3 summary, 9 reviewed, 10 tags, 13 keywords, 21 likelihood, 44 a source's date.
ENTRY_CASES: list[tuple[str, str | bytes, int, str]] = [
    ("reviewed-9999", swap("reviewed: 2026-10-01", "reviewed: 9999-12-31"), 9,
     "reviewed must be from 1990-01-01 to 2027-12-02 (a year from today), got 9999-12-31"),
    ("reviewed-1066", swap("reviewed: 2026-10-01", "reviewed: 1066-10-14"), 9,
     "reviewed must be from 1990-01-01 to 2027-12-02 (a year from today), got 1066-10-14"),
    ("source-date-9999", swap("date: 2024", "date: 9999-12-31"), 44,
     "date must be from 1800-01-01 to 2027-12-02 (a year from today), got 9999-12-31"),
    ("source-year-0000", swap("date: 2024", "date: '0000'"), 44, "date must be from 1800 to 2027, got 0000"),
    ("source-year-2200", swap("date: 2024", "date: 2200"), 44, "date must be from 1800 to 2027, got 2200"),
    ("checked-9999", swap("date: 2024", "date: 2024\n    checked: 9999-12-31"), 45,
     "checked must be from 1990-01-01 to 2027-12-02 (a year from today), got 9999-12-31"),
    ("alias-bomb", bomb(), 2,
     "YAML anchors and aliases ('&a') are not allowed in front matter; write the value out in full"),
    ("alias", swap("sectors: [prisons]", "sectors: &places [prisons]\nextra: *places"), 11,
     "YAML anchors and aliases ('&places') are not allowed"),
    ("merge-key", swap("title: Prison drones", "base: &b {title: Prison drones}\n<<: *b"), 2,
     "YAML anchors and aliases ('&b') are not allowed"),
    ("likelihood-1e9", swap("likelihood: 5", "likelihood: 1e9"), 21, "likelihood must be 1-5, got '1e9'"),
    ("likelihood-float", swap("likelihood: 5", "likelihood: 1.0e+9"), 21, "likelihood must be 1-5, got 1000000000.0"),
    ("likelihood-5000-digits", swap("likelihood: 5", "likelihood: " + "9" * 5000), 21,
     "likelihood must be 1-5, got '99999999999999999999"),
    ("title-10-mb", swap("title: Prison drones", "title: " + "x" * 10_000_000), 1,
     "the file is 9.5 MiB; an entry file must be at most 1 MiB"),
    ("title-1000-chars", swap("title: Prison drones", "title: " + "x" * 1000), 2,
     "title is 1000 characters long; keep it to 300"),
    ("keyword-200-chars", swap("keywords: [drone,", "keywords: [" + "k" * 200 + ", drone,"), 13,
     "keywords items must be at most 100 characters; got one of 200"),
    ("title-yes", swap("title: Prison drones", "title: yes"), 2,
     "title must be text, but YAML reads true (and yes, no, on, off) as true or false; put it in quotes"),
    ("title-binary", swap("title: Prison drones", "title: !!binary aGVsbG8="), 2, "title must be text, got a !!binary value"),
    ("python-tag", swap("title: Prison drones", "title: !!python/object/apply:os.system [id]"), 2,
     "YAML syntax error: could not determine a constructor for the tag"),
    ("tab-indent", swap("title: Prison drones", "\ttitle: Prison drones"), 2,
     "YAML syntax error: a tab indents this line; YAML indents with spaces only"),
    ("nul-byte", swap("summary: Drones", "summary: Dro\x00nes"), 3,
     "the control character U+0000 is not allowed in front matter; delete it"),
    ("escape-character", swap("summary: Drones", "summary: \x1b[31mDrones"), 3, "the control character U+001B"),
    ("duplicated-key", swap("title: Prison drones", "title: Prison drones\ntitle: Prison drones"), 3,
     "'title' appears twice (first on line 2); keep one"),
    ("list-as-key", swap("title: Prison drones", "title: Prison drones\n? [a, b]\n: x"), 3,
     "a key must be a plain name such as 'title', not a list or a mapping"),
    ("deep-nesting", "---\ntitle: " + "[" * 10_000 + "]" * 10_000 + "\n---\n", 2,
     "YAML syntax error: exceeded maximum nesting depth"),
    ("empty-file", "", 1, "the file must start with a '---' line, then the front matter, then '---'"),
    ("binary-file", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64, 1, "the file is not UTF-8 text; save it as UTF-8"),
    ("latin-1", swap("summary: Drones", "summary: Caf\xe9 drones").encode("latin-1"), 3,
     "the file is not UTF-8 text; save it as UTF-8"),
]  # fmt: skip

# Files that are fine however odd they look.
ACCEPTED: list[tuple[str, str]] = [
    ("byte-order-mark", "\ufeff" + GOOD),
    ("crlf", GOOD.replace("\n", "\r\n")),
    ("quoted-ampersand-and-star", swap("title: Prison drones", 'title: "Prison drones & *drops*"')),
    ("plain-ampersand", swap("title: Prison drones", "title: Prison drones & drops")),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The small test knowledge base (four entries)."""
    kb_root = tmp_path / "kb"
    shutil.copytree(DATA / "entries", kb_root / "entries")
    (kb_root / "feeds").mkdir()
    (kb_root / "config.toml").write_text("[kb]\nreview_days = 365\n\n[accounts]\ntest_hashing = true\n")
    return kb_root


def within_deadline(work: Callable[[], object]) -> object:
    """`work()` in a thread; fails the test if it is still running after DEADLINE seconds."""
    outcome: list[object] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the test below
            failure.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    with clock.frozen(TODAY):
        worker.start()
        worker.join(DEADLINE)
    assert not worker.is_alive(), f"still running after {DEADLINE} s: it hangs"
    if failure:
        raise failure[0]
    return outcome[0]


def kb(root: Path, *args: str) -> Result:
    """`kb --root ROOT ARGS`; a traceback would raise here (catch_exceptions=False)."""
    result = within_deadline(lambda: CliRunner().invoke(main, ["--root", str(root), *args], catch_exceptions=False))
    assert isinstance(result, Result)
    assert "Traceback" not in result.output, result.output
    return result


def write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")


@pytest.mark.parametrize(("content", "line", "message"), [c[1:] for c in ENTRY_CASES], ids=[c[0] for c in ENTRY_CASES])
def test_finding_10_bad_entries_are_refused_with_file_and_line(root, content, line, message):
    write(root / "entries" / f"{BAD}.md", content)
    expected = f"entries/{BAD}.md:{line}: {message}"

    checked = kb(root, "validate")
    assert checked.exit_code == 1
    assert expected in checked.output, checked.output[-2000:]

    indexed = kb(root, "index")
    assert indexed.exit_code == 1
    assert expected in indexed.output
    assert "1 skipped with errors; 4 documents in the index" in indexed.output

    found = kb(root, "search", "drone")
    assert found.exit_code == 0
    assert "prison-drones" in found.output and BAD not in found.output  # the rest is searchable


@pytest.mark.parametrize("content", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_finding_10_odd_but_good_entries_are_accepted(root, content):
    write(root / "entries" / f"{BAD}.md", content)
    assert kb(root, "validate").exit_code == 0
    assert kb(root, "index").exit_code == 0
    assert BAD in kb(root, "search", "drone").output


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\na: &x 1\n---\n", 2, "('&x') are not allowed"),  # an anchor never used is refused too
        ("---\na: 1\nb: [1, *x]\n---\n", 3, "('*x') are not allowed"),  # an alias to nothing: the same
        ("---\na: 1\n? {b: 1}\n: 2\n---\n", 3, "a key must be a plain name"),
        ("---\na: 1\nb: x\x7fy\n---\n", 3, "the control character U+007F"),
    ],
    ids=["unused-anchor", "undefined-alias", "mapping-as-key", "delete-character"],
)
def test_finding_10_front_matter_refusals_name_the_line(text, line, message):
    with pytest.raises(FrontMatterError) as refused:
        within_deadline(lambda: parse(text))
    assert refused.value.line == line
    assert message in refused.value.message


def test_finding_10_a_billion_laughs_is_refused_before_it_is_built():
    with pytest.raises(FrontMatterError, match="anchors and aliases"):
        within_deadline(lambda: parse(bomb(levels=16)))  # 9**16 values, were it expanded


def test_finding_10_a_folder_named_like_an_entry_is_left_out_and_named_when_asked_for(root):
    (root / "entries" / "x.md").mkdir()
    assert kb(root, "validate").output.strip().endswith("4 entries OK")
    asked = kb(root, "show", "x")
    assert asked.exit_code == 1
    assert "entries/x.md:1: this is a folder, not an entry file" in asked.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_finding_10_a_named_pipe_is_refused_not_read_forever(root):
    os.mkfifo(root / "entries" / "pipe.md")
    assert kb(root, "validate").exit_code == 0  # not a file: not an entry
    asked = kb(root, "show", "pipe")  # reading it would wait for a writer forever
    assert asked.exit_code == 1
    assert "entries/pipe.md:1: this is not a regular file" in asked.output
    entry, problems = read_entry(root / "entries" / "pipe.md")
    assert entry is None and problems[0].line == 1


def test_finding_10_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.md"
    with path.open("wb") as f:
        f.truncate(20 * 1024**2)  # 20 MiB, sparse
    entry, problems = read_entry(path)
    assert entry is None and [p.message for p in problems] == [
        "the file is 20.0 MiB; an entry file must be at most 1 MiB"
    ]


def test_finding_10_the_site_stays_up_when_an_entry_has_a_far_future_review_date(root):
    write(root / "entries" / f"{BAD}.md", swap("reviewed: 2026-10-01", "reviewed: 9999-12-31"))
    workspace = Workspace.open(root)
    update_index(workspace)
    workspace.close()
    app = create_app(root, {"TESTING": True})
    try:
        client = app.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/entries/prison-drones").status_code == 200
        assert client.get(f"/entries/{BAD}").status_code == 404  # refused, so never published
    finally:
        app.extensions["kb"].close()


# (id, config.toml (None: none written), other files (None: a folder), what the message says)
CONFIG_CASES: list[tuple[str, str | bytes | None, dict[str, str | None], str]] = [
    ("review-days-3000000", "[kb]\nreview_days = 3000000\n", {},
     "kb.review_days: must be from 1 to 3650 days, got 3000000"),
    ("review-days-0", "[kb]\nreview_days = 0\n", {}, "kb.review_days: must be from 1 to 3650 days, got 0"),
    ("per-page-0", "[site]\nper_page = 0\n", {}, "site.per_page: must be from 1 to 200, got 0"),
    ("per-page-10-to-the-11", "[site]\nper_page = 100000000000\n", {},
     "site.per_page: must be from 1 to 200, got 100000000000"),
    ("timeout-0", "[feeds]\nread_timeout = 0\n", {},
     "feeds.read_timeout: must be more than 0 and at most 600 seconds, got 0.0"),
    ("timeout-inf", "[feeds]\ntotal_timeout = inf\n", {},
     "feeds.total_timeout: must be more than 0 and at most 600 seconds, got inf"),
    ("max-bytes-1", "[feeds]\nmax_bytes = 1\n", {},
     "feeds.max_bytes: must be from 1024 to 1073741824 bytes (1 KiB to 1 GiB), got 1"),
    ("concurrency-10000", "[feeds]\nconcurrency = 10000\n", {}, "feeds.concurrency: must be from 1 to 64, got 10000"),
    ("interval-0", "[feeds]\ndefault_interval = 0\n", {},
     "feeds.default_interval: must be from 1 to 10080 minutes (a week), got 0"),
    ("backoff-a-year", "[feeds]\nmax_backoff = 525600\n", {},
     "feeds.max_backoff: must be from 1 to 10080 minutes (a week), got 525600"),
    ("threshold-nan", "[suggest]\nupdate_threshold = nan\n", {},
     "suggest.update_threshold: must be from 0 to 1, got nan"),
    ("threshold-2", "[suggest]\nupdate_threshold = 2\n", {}, "suggest.update_threshold: must be from 0 to 1, got 2.0"),
    ("not-utf-8", '[site]\ntitle = "Caf\xe9"\n'.encode("latin-1"), {},
     "config.toml:2: the file is not UTF-8 text; save it as UTF-8"),
    ("kb-is-5", "kb = 5\n", {}, "[kb] must be a table (a [kb] line, then 'key = value' lines), got 5"),
    ("site-is-a-list", "site = [1, 2]\n", {}, "[site] must be a table"),
    ("var-dir-is-a-file", '[kb]\nvar_dir = "notes.txt"\n', {"notes.txt": "x"},
     "notes.txt is not a folder; point var_dir at a folder (it is made if missing)"),
    ("var-dir-inside-a-file", '[kb]\nvar_dir = "notes.txt/var"\n', {"notes.txt": "x"},
     "notes.txt/var is not a folder ("),
    ("entries-dir-is-a-file", '[kb]\nentries_dir = "notes.txt"\n', {"notes.txt": "x"},
     "notes.txt is not a folder; point entries_dir at a folder"),
    ("path-with-nul", '[kb]\nvar_dir = "v\\u0000r"\n', {},
     "kb.var_dir: must not contain control characters (tabs, new lines and the like)"),
    ("config-is-a-folder", None, {"config.toml": None}, "config.toml: cannot read the file (Is a directory)"),
    ("user-agent-newline", '[feeds]\nuser_agent = "kb\\r\\nX-Evil: 1"\n', {},
     "feeds.user_agent: must not contain control characters"),
    ("user-agent-not-ascii", '[feeds]\nuser_agent = "kb \u2603"\n', {},
     "feeds.user_agent: must be ASCII text (it is sent in an HTTP header)"),
    ("base-url-no-scheme", '[site]\nbase_url = "kb.example.org"\n', {},
     "site.base_url: must be an http:// or https:// address such as https://kb.example.org, got 'kb.example.org'"),
    ("title-empty", '[site]\ntitle = ""\n', {}, "site.title: must not be empty"),
    ("title-1-mb", '[site]\ntitle = "' + "x" * 1_000_000 + '"\n', {},
     "site.title: is 1000000 characters long; at most 500"),
]  # fmt: skip


def config_case(tmp_path: Path, toml: str | bytes | None, files: dict[str, str | None]) -> Path:
    root = tmp_path / "kb"
    (root / "entries").mkdir(parents=True)
    shutil.copy(DATA / "entries" / "prison-drones.md", root / "entries")
    for name, content in files.items():
        if content is None:
            (root / name).mkdir()
        else:
            (root / name).write_text(content)
    if toml is not None:
        write(root / "config.toml", toml)
    return root


@pytest.mark.parametrize(("toml", "files", "message"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_finding_10_bad_settings_are_refused_by_key(tmp_path, toml, files, message):
    root = config_case(tmp_path, toml, files)
    with pytest.raises(ConfigError) as refused:
        config.load(root)
    assert message in str(refused.value)
    for args in (["validate"], ["index"], ["search", "drone"]):
        result = kb(root, *args)
        assert result.exit_code == 1
        assert len(result.output.splitlines()) == 1, result.output[:2000]
        assert result.output.startswith(f"Error: {root}") and message in result.output
    with pytest.raises(ConfigError):
        create_app(root, {"TESTING": True})  # the site never starts with it


def test_finding_10_every_number_setting_has_a_range_its_default_is_in():
    numbers = [("kb", key, default) for key, default in config._TOP.items()]
    numbers += [(name, key, value) for name, cls in config._SECTIONS.items() for key, value in vars(cls()).items()]
    numbers = [(f"{s}.{k}", v) for s, k, v in numbers if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert len(numbers) > 10
    assert [key for key, _ in numbers if key not in config.BOUNDS] == []
    assert [key for key, default in numbers if not config.BOUNDS[key].admits(default)] == []
    assert sorted(config.BOUNDS) == sorted(key for key, _ in numbers)


def test_finding_10_the_shipped_config_loads():
    assert config.load(Path(__file__).parent.parent).site.per_page == 20


def test_finding_10_a_missing_knowledge_base_folder_is_named(tmp_path):
    result = kb(tmp_path / "nope", "validate")
    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: {tmp_path / 'nope'}: no such folder; give --root (or $KB_ROOT) the folder that holds config.toml\n"
    )


@click.group(cls=KbGroup)
@click.option("--root", default=None)
@click.pass_context
def crashing(ctx: click.Context, root: str | None) -> None:
    """A `kb`-like group whose one command fails the way a bug would."""
    ctx.obj = Context(root)


@crashing.command()
@click.argument("words", nargs=-1)
def boom(words: tuple[str, ...]) -> None:
    raise ZeroDivisionError("division by zero\n" + " ".join(words) + "\x1b[2J" + "y" * 1000)


def run_crashing(root: Path, *args: str) -> Result:
    result = within_deadline(lambda: CliRunner().invoke(crashing, ["--root", str(root), *args], catch_exceptions=False))
    assert isinstance(result, Result)
    return result


def test_finding_10_an_unexpected_error_is_one_line_and_a_log_file(root):
    result = run_crashing(root, "boom", "first", "second")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) == 1
    log = root / "var" / "log" / "kb-errors.log"
    assert result.output.startswith("Error: unexpected ZeroDivisionError: division by zero first second?[2Jyyy")
    assert result.output.endswith(f"...; details in {log}\n")  # cut short, control characters gone
    text = log.read_text()
    assert f"{TODAY[:19]}+00:00 crashing --root {root} boom first second\n" in text
    assert "Traceback (most recent call last)" in text
    assert "\nZeroDivisionError: division by zero\nfirst second" in text  # the message as it was
    assert run_crashing(root, "boom").exit_code == 1
    assert log.read_text().count("Traceback") == 2  # appended, not replaced


def test_finding_10_without_a_var_folder_the_traceback_goes_to_a_temporary_file(root, tmp_path, monkeypatch):
    (root / "var").mkdir()
    (root / "var" / "log").write_text("a file where the log folder would be")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temporary"))
    (tmp_path / "temporary").mkdir()
    result = run_crashing(root, "boom")
    assert result.exit_code == 1 and "Traceback" not in result.output
    saved = list((tmp_path / "temporary").glob("kb-error-*.log"))
    assert len(saved) == 1 and "ZeroDivisionError" in saved[0].read_text()
    assert result.output.rstrip().endswith(f"details in {saved[0]}")


def test_finding_10_clicks_own_exits_are_left_alone(root):
    assert run_crashing(root, "--help").exit_code == 0
    usage = run_crashing(root, "no-such-command")
    assert usage.exit_code == 2 and "No such command" in usage.output
    assert not (root / "var" / "log").exists()


def test_finding_10_a_symlink_loop_in_entries_is_never_a_traceback(root):
    (root / "entries" / "loop.md").symlink_to(root / "entries" / "loop.md")
    for args in (["validate"], ["index"]):
        result = kb(root, *args)  # fails the test on a traceback
        if result.exit_code:
            assert result.output.splitlines()[-1].startswith("Error: ")
