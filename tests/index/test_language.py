"""Queries in people's words (issue 14): stop words, some of the words, spelling corrections,
US and UK spellings, the synonyms file, and snippets cut from the text a reader sees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli.main import main
from kb.errors import QueryError
from kb.index.language import Synonyms, SynonymsFile, distance, spellings, surface
from kb.index.ranking import Ranker
from kb.index.snippets import plain, snippet
from kb.index.terms import STEM
from kb.model import synonyms as synonyms_file
from kb.sync import update_index


def slugs(ws, query, **kw):
    return [h.slug for h in ws.index.search(query, **kw).hits]


def add_text(ws, slug: str, text: str) -> None:
    path = ws.cfg.entries_dir / f"{slug}.md"
    path.write_text(path.read_text() + "\n" + text + "\n")
    update_index(ws)


def write_synonyms(ws, text: str) -> Path:
    path = ws.cfg.entries_dir / "synonyms.yaml"
    path.write_text(text)
    return path


# -- finding 1: stop words were required terms ----------------------------------------------


def test_finding_1_stop_words_are_never_required(ws):
    query = ws.index.parse("drones of the prisons")
    assert "tag:of" not in str(query) and "sector:the" not in str(query)
    assert slugs(ws, "drones of the prisons") == ["prison-drones"]
    assert slugs(ws, "drugs written by the prisoners") == ["prison-drones"]


def test_a_query_of_only_stop_words_says_so(ws):
    with pytest.raises(QueryError, match="very common words are ignored"):
        ws.index.search("of the")


def test_stop_words_next_to_operators_leave_a_query(ws):
    assert slugs(ws, "drones AND the") == ["prison-drones"]
    assert slugs(ws, "drones NOT the") == ["prison-drones"]


# -- finding 2: every word had to match, and nothing else was tried ------------------------


def test_finding_2_notes_with_most_of_the_words_follow(ws):
    results = ws.index.search("quadcopter contraband zebrafish")
    assert [h.slug for h in results.hits] == ["prison-drones"]
    assert results.partial and results.complete == 0 and results.total == 1


def test_notes_with_all_the_words_come_first(ws):
    results = ws.index.search("drones firearms")  # no note has both
    assert results.complete == 0 and results.partial
    assert set(slugs(ws, "drones firearms")) == {"prison-drones", "printed-guns"}
    complete = ws.index.search("drones prisons")
    assert complete.complete == 1 and [h.slug for h in complete.hits][0] == "prison-drones"


def test_a_note_with_one_word_of_four_is_left_out_when_others_have_more(ws):
    add_text(ws, "printed-guns", "Zebrafish quagga okapi.")
    hits = slugs(ws, "zebrafish quagga okapi drones")
    assert hits == ["printed-guns"]  # three of four words; prison-drones has one


def test_the_query_language_still_means_what_it_says(ws):
    assert slugs(ws, "prisons AND firearms") == []  # an explicit AND is never relaxed
    assert slugs(ws, '"exercise yards" firearms') == []  # nor a query with a phrase
    assert slugs(ws, "sector:prisons firearms") == []  # nor one with a field


# -- finding 3: no typo tolerance ------------------------------------------------------------


def test_finding_3_a_misspelt_word_is_corrected_when_nothing_matches(ws):
    results = ws.index.search("quadcoptr")
    assert results.corrected == "quadcopter" and [h.slug for h in results.hits] == ["prison-drones"]
    assert not results.suggestion


def test_a_correction_keeps_the_other_words_and_their_places(ws):
    results = ws.index.search("drones  in exercse yards")
    assert results.corrected == "drones  in exercise yards"
    assert [h.slug for h in results.hits] == ["prison-drones"]


def test_a_correction_that_finds_nothing_either_is_only_offered(ws):
    results = ws.index.search("quadcoptr zzyzzx")
    assert results.hits == [] and results.corrected == ""
    assert results.suggestion == "quadcopter zzyzzx"


def test_corrections_only_come_from_what_the_reader_may_see(ws):
    from kb.model.access import PUBLIC

    # "zanzibar" is only in a TLP:GREEN note; the public never gets it as a correction
    assert ws.index.search("zanzibr").corrected == "zanzibar"
    public = ws.index.search("zanzibr", audience=PUBLIC)
    assert public.hits == [] and not public.corrected and not public.suggestion


def test_distance_counts_a_swap_as_one_edit():
    assert distance("deafult", "default", 2) == 1
    assert distance("pasword", "password", 2) == 1
    assert distance("abc", "xyz", 1) == 2  # over the limit: limit + 1


def test_a_correction_is_shown_as_a_word_not_a_stem():
    assert surface("cryptocurency", "cryptocurrenci", ["cryptocurrencies"]) == "cryptocurrency"
    assert surface("stalkerwear", "stalkerwar", ["stalkerware"]) == "stalkerware"
    assert surface("tamperring", "tamper") == "tampering"


# -- finding 4: no US/UK spelling -------------------------------------------------------------


@pytest.mark.parametrize(
    ("uk", "us"),
    [
        ("organised", "organized"),
        ("authorisation", "authorization"),
        ("licence", "license"),
        ("defence", "defense"),
        ("offences", "offenses"),
        ("colour", "color"),
        ("behaviour", "behavior"),
        ("analysed", "analyzed"),
        ("catalogue", "catalog"),
        ("centre", "center"),
        ("travelled", "traveled"),
        ("paedophile", "pedophile"),
        ("programme", "program"),
        ("manoeuvre", "maneuver"),
    ],
)
def test_finding_4_each_spelling_has_the_other(uk, us):
    assert us in spellings(uk) and uk in spellings(us)


def test_words_without_another_spelling_have_none():
    for word in ("drone", "size", "rise", "door", "tour", "meter"):
        assert spellings(word) == (word,)


def test_either_spelling_finds_both(ws):
    add_text(ws, "printed-guns", "Organised gangs sold them at the town centre.")
    add_text(ws, "prison-drones", "An organized crime group flew them from a parking center.")
    for query in ("organised", "organized", "centre", "center"):
        assert sorted(slugs(ws, query)) == ["printed-guns", "prison-drones"], query
    assert slugs(ws, "title:organized") == []  # a field keeps its meaning: no title has it


# -- finding 5: no synonyms ------------------------------------------------------------------


def test_finding_5_synonyms_from_the_file_find_each_other(ws):
    assert slugs(ws, "UAV") == []
    write_synonyms(ws, "- UAV = drone\n- ghost gun = 3D-printed firearm\n")
    assert slugs(ws, "UAV") == ["prison-drones"]
    assert slugs(ws, "ghost guns") == ["printed-guns"]  # a plural of the term


def test_a_split_word_and_a_multi_word_synonym(ws):
    add_text(ws, "printed-guns", "A deepfake of the maker circulated.")
    write_synonyms(ws, "- deep fake = deepfake\n- zebra quagga = printed firearm\n")
    assert slugs(ws, "deep fake") == ["printed-guns"]
    assert slugs(ws, "deep-fake") == ["printed-guns"]
    assert slugs(ws, "zebra quagga") == ["printed-guns"]  # the other term, as a phrase


def test_a_synonym_typed_with_a_stop_word_still_finds_itself(ws):
    add_text(ws, "printed-guns", "Cheap internet of things kits.")
    write_synonyms(ws, "- internet of things = zzyzx devices\n")
    assert "tag:of" not in str(ws.index.parse("internet of things"))
    assert slugs(ws, "internet of things") == ["printed-guns"]


def test_a_changed_synonyms_file_is_read_again(ws):
    path = write_synonyms(ws, "- UAV = drone\n")
    assert slugs(ws, "UAV") == ["prison-drones"]
    path.write_text("- UAV = unmanned aerial vehicle zz\n")
    assert slugs(ws, "UAV") == []


def test_operators_apply_to_a_word_and_its_synonyms(ws):
    write_synonyms(ws, "- UAV = drone\n")
    assert set(slugs(ws, "NOT uav")) == {"printed-guns", "secret-keys", "draft-robots"}
    assert slugs(ws, "uav AND prisons") == ["prison-drones"]
    assert slugs(ws, "uav*") == []  # a prefix is a prefix, not a word


def test_expanded_queries_score_as_whoosh_does(ws):
    add_text(ws, "printed-guns", "An organized group; a deepfake; drones.")
    write_synonyms(ws, "- UAV = drone = unmanned aircraft\n- deep fake = deepfake\n")
    for text in ("UAV organised", "deep fake OR uav", "uav OR organized prisons"):
        query = ws.index.parse(text)
        with ws.index._reading() as searcher:
            ours = Ranker(searcher).scores(query)
            theirs = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
        assert ours is not None and theirs and set(ours) == set(theirs), text
        for docnum, score in theirs.items():
            assert ours[docnum] == pytest.approx(score, rel=1e-9)


def test_the_synonyms_file_is_the_knowledge_bases_own(ws, tmp_path):
    assert ws.index.synonyms == ws.cfg.entries_dir / "synonyms.yaml"  # given by the workspace, whatever var_dir is
    assert ws.items.synonyms == ws.index.synonyms
    assert SynonymsFile(None).current() == Synonyms()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("- UAV", "is one term: a group needs two or more"),
        ("- UAV = ", "an empty term"),
        ("- 'drone: thing = UAV'", "which search reads as query syntax"),
        ("- drone* = UAV", "which search reads as query syntax"),
        ("- {a: b}", "each group is one line of terms separated by ="),
        ("- drone = OR", "is an operator in the query language"),
        ("- drone = £5 drone", "use only words"),
    ],
)
def test_synonym_file_problems_name_their_line(line, message):
    groups, problems = synonyms_file.parse(f"# comment\n- a = b\n{line}\n", Path("entries/synonyms.yaml"))
    assert [g.terms for g in groups] == [("a", "b")]
    assert len(problems) == 1 and str(problems[0]).startswith("entries/synonyms.yaml:3: ")
    assert message in problems[0].message


def test_a_term_in_two_groups_and_broken_yaml_are_problems():
    _, problems = synonyms_file.parse("- drone = UAV\n- quadcopter = Drone\n", Path("s.yaml"))
    assert [str(p) for p in problems] == [
        "s.yaml:2: 'Drone' is already in the group on line 1: put each term in one group"
    ]
    _, problems = synonyms_file.parse("- a = b\n  - c\n: x\n", Path("s.yaml"))
    assert problems and problems[0].line > 0 and "not valid YAML" in problems[0].message
    _, problems = synonyms_file.parse("drone: UAV\n", Path("s.yaml"))
    assert "must be a list" in problems[0].message


def test_kb_validate_checks_the_synonyms_file(kb_root):
    (kb_root / "entries" / "synonyms.yaml").write_text("- UAV = drone\n- quadcopter\n")
    result = CliRunner().invoke(main, ["--root", str(kb_root), "validate"])
    assert result.exit_code == 1
    assert "entries/synonyms.yaml:2: 'quadcopter' is one term" in result.output


def test_the_shipped_synonyms_file_is_valid_and_useful():
    path = Path(__file__).parents[2] / "entries" / "synonyms.yaml"
    groups, problems = synonyms_file.read(path, Path("entries/synonyms.yaml"))
    assert problems == [] and len(groups) >= 30


def test_a_broken_synonyms_file_never_stops_a_search(ws):
    write_synonyms(ws, "- UAV = drone\n- : [\n")
    assert slugs(ws, "drone") == ["prison-drones"]


# -- finding 6: snippets cut mid-word and showing Markdown ----------------------------------


def test_finding_6_snippets_come_from_the_rendered_text_and_end_at_words(ws):
    body = (
        "## Background\n\nSome **strong** words and a [linked report](https://example.com/report) about "
        + "filler " * 60
        + "the *axolotl* trade, which `grows`, in 3D-printed tanks.\n\n- a list item\n"
        + "more filler " * 80
    )
    path = ws.cfg.entries_dir / "printed-guns.md"
    path.write_text(path.read_text() + "\n" + body)
    update_index(ws)
    hit = ws.index.search("axolotl tanks", snippet_text=lambda h: body).hits[0]
    assert "<mark>axolotl</mark>" in hit.snippet and "<mark>tanks</mark>" in hit.snippet
    for syntax in ("**", "](", "##", "`", "*axolotl*", "- a list"):
        assert syntax not in hit.snippet
    assert "3D-printed" in hit.snippet  # widened to the space, not cut at the hyphen
    text = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert text.startswith("… ") and text.endswith(" …")
    words = text.strip("… ").split()
    assert words[0] in body.split() and words[-1] in body.split()  # whole words at both ends


def test_snippets_mark_every_form_of_the_words_in_the_best_two_fragments():
    text = (
        "A relay attack on keyless cars: thieves relayed the fob signal. "
        + "Filler words about other things go here. " * 6
        + "Relaying &lt;b&gt; signals <b>again</b>; the relay's range grows."
    )
    assert snippet(text, frozenset({"relai", "signal"}), None) == (
        "A <mark>relay</mark> attack on keyless cars: thieves <mark>relayed</mark> the fob <mark>signal</mark>. "
        "Filler words about other things go here. Filler words about other … things go here. Filler words "
        "about other things go here. <mark>Relaying</mark> &lt;b&gt; <mark>signals</mark> "
        "&lt;b&gt;again&lt;/b&gt;; the <mark>relay</mark>&#x27;s range grows."
    )
    # a word whose stem is not how it begins (visibility -> visibl) is marked too, never a part of a word
    shown = snippet("Visibility of the visible signs: invisible " + "x " * 200, frozenset({"visibl"}), None)
    assert shown.startswith("<mark>Visibility</mark> of the <mark>visible</mark> signs: invisible x")
    assert shown.endswith(" …")


def test_snippets_mark_the_words_the_index_makes_the_terms_of():
    text = "The Relaying of relays: a I 3D-printed PRINTING Printers; café Cafés it's its x2 e.g. Visibility"
    for words in ({"relai", "print"}, {"café", "e.g", "x2"}, {"the", "i", "it"}, {"visibl", "3d"}):
        shown = snippet(text, frozenset(words), None)
        marked = re.findall(r"<mark>(.*?)</mark>", shown)
        assert marked == [
            w
            for w in re.findall(r"[\w*]+(?:\.?[\w*]+)*", text)
            if any(t.text in words for t in STEM(w, removestops=False))
        ]


def test_a_summary_without_the_words_is_shown_up_to_a_space():
    shown = snippet("word " * 100, frozenset({"absent"}), None)
    assert shown.endswith(" …") and shown.rstrip(" …").endswith("word") and len(shown) < 250


def test_plain_takes_out_markdown():
    markdown = (
        "# Title\n\nSome *emph* and snake_case_word, `code` &amp; ![img](x.png) [ref][1] note[^2]\n\n"
        "| a | b |\n|---|---|\n| c | d |\n\n> quote\n\n1. item\n- [x] done\n\n```\nprint(1)\n```\n\n[1]: http://x.test\n"
    )
    assert (
        plain(markdown) == "Title. Some emph and snake_case_word, code & img ref note a b c d quote item done print(1)"
    )
