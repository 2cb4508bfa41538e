import pytest

from kb.model.frontmatter import FrontMatterError, parse


def test_line_numbers_are_file_lines():
    fm = parse("---\ntitle: x\nrisks:\n  - id: a\n    likelihood: 7\n---\nbody\n")
    assert fm.meta["risks"][0]["likelihood"] == 7
    assert fm.line("risks", 0, "likelihood") == 5
    assert fm.line("title") == 2
    assert fm.body == "body\n"
    assert fm.body_line == 7


def test_unknown_path_falls_back_to_nearest_known_parent():
    fm = parse("---\ntitle: x\nrisks:\n  - id: a\n---\n")
    assert fm.line("risks", 0, "impact") == 4


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("title: x\n---\n", 1, "must start with a '---'"),
        ("---\ntitle: x\n", 2, "never closed"),
        ("---\n---\nbody", 2, "empty"),
        ("---\ntitle: x\nsummary: a: b\n---\n", 3, "YAML syntax error"),
        ("---\ntitle: x\ntitle: y\n---\n", 3, "appears twice"),
        ("---\n- a\n- b\n---\n", 2, "must be a mapping"),
    ],
)
def test_errors_name_the_line(text, line, words):
    with pytest.raises(FrontMatterError) as err:
        parse(text)
    assert err.value.line == line
    assert words in err.value.message


def test_impossible_date_is_left_for_the_validator():
    fm = parse("---\nreviewed: 2026-02-30\n---\n")
    assert fm.meta["reviewed"] == "2026-02-30"
