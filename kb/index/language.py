"""Words as people type them: US and UK spellings, synonyms, and the closest word to a typo.

Used at query time only (the index is unchanged, so an existing index needs no rebuild):

- `spellings("organized")` is `("organized", "organised")`: each word of a query also searches
  its other spelling (-ise/-ize, -yse/-yze, -our/-or, -ence/-ense, -ogue/-og, -re/-er,
  -lled/-led, ae/oe, and a list of single words).
- `Synonyms` holds the groups of `entries/synonyms.yaml` (`kb.model.synonyms`) and finds them in
  a query's words, matching case, plurals and either spelling (`key`).
- `distance` and `closest` pick spelling corrections from the index's own terms.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from whoosh.analysis import STOP_WORDS, RegexTokenizer
from whoosh.lang.porter import stem

from kb.model import synonyms as synonyms_file

log = logging.getLogger(__name__)
STOPS = frozenset(STOP_WORDS)  # the words every stemmed field leaves out

# -- spellings ------------------------------------------------------------------------------

# (UK, US) middles of words, after a stem of at least so many letters and before these endings
_ENDINGS = [
    ("is", "iz", 3, "e|es|ed|ing|er|ers|ation|ations|able"),  # organise, authorisation
    ("ys", "yz", 2, "e|es|ed|ing|er|ers"),  # analyse, paralysed
]
# (UK, US) beginnings of words: colour/color and colourful/colorful, defence/defense, ...
_OUR = "col behavi fav hon lab neighb harb rum hum vap arm flav od endeav vig tum sav savi parl val clam demean"
_STARTS = [
    *((f"{b}our", f"{b}or") for b in _OUR.split()),
    *((f"{b}enc", f"{b}ens") for b in ("def", "off", "lic", "pret")),
    *((f"{b}ogue", f"{b}og") for b in ("catal", "dial", "anal", "prol", "epil", "monol")),
    ("paedophil", "pedophil"),
    ("paediatr", "pediatr"),
    ("anaes", "anes"),
    ("haemorrh", "hemorrh"),
    ("leukaem", "leukem"),
    ("oesoph", "esoph"),
    ("oestr", "estr"),
    ("foet", "fet"),
    ("manoeuvr", "maneuver"),
    ("encyclopaed", "encycloped"),
    ("archaeo", "archeo"),
    ("gynaec", "gynec"),
]
# (UK, US) whole words; the -re/-er and -lled/-led words are added below
_WORDS = {
    "programme": "program",
    "programmes": "programs",
    "grey": "gray",
    "mould": "mold",
    "plough": "plow",
    "ageing": "aging",
    "judgement": "judgment",
    "acknowledgement": "acknowledgment",
    "aluminium": "aluminum",
    "sceptic": "skeptic",
    "sceptical": "skeptical",
    "jewellery": "jewelry",
    "artefact": "artifact",
    "artefacts": "artifacts",
    "enrol": "enroll",
    "enrolment": "enrollment",
    "fulfil": "fulfill",
    "fulfilment": "fulfillment",
    "instalment": "installment",
    "skilful": "skillful",
    "wilful": "willful",
    "cosy": "cozy",
    "pyjamas": "pajamas",
    "moustache": "mustache",
    "practise": "practice",
    "practised": "practiced",
    "practising": "practicing",
    "cheque": "check",
    "cheques": "checks",
    "tyre": "tire",
    "tyres": "tires",
    "kerb": "curb",
    "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers",
}
for _base in ("cent", "fib", "theat", "lit", "calib", "sab", "spect", "lust", "meag", "somb"):
    _WORDS.update({f"{_base}re": f"{_base}er", f"{_base}res": f"{_base}ers", f"{_base}red": f"{_base}ered"})
_LL = "travel label model cancel fuel signal channel level total dial counsel jewel marshal tunnel funnel pedal equal rival"
for _base in _LL.split():
    for _end in ("ed", "ing", "er", "ers", "or", "ors"):
        _WORDS[f"{_base}l{_end}"] = f"{_base}{_end}"
_OTHER = {**_WORDS, **{us: uk for uk, us in _WORDS.items()}}
_ENDING_RES = [
    (re.compile(rf"(\w{{{n},}}){a}({ends})"), b) for uk, us, n, ends in _ENDINGS for a, b in ((uk, us), (us, uk))
]


@lru_cache(maxsize=4096)
def spellings(word: str) -> tuple[str, ...]:
    """`word` in lower case, then its other spellings (US for UK, UK for US), if it has any."""
    word = word.lower()
    out = [word, _OTHER.get(word, "")]
    for pattern, middle in _ENDING_RES:
        if found := pattern.fullmatch(word):
            out.append(found.group(1) + middle + found.group(2))
    for uk, us in _STARTS:
        if word.startswith(uk):
            out.append(us + word[len(uk) :])
        elif word.startswith(us):
            out.append(uk + word[len(us) :])
    return tuple(dict.fromkeys(w for w in out if w))


# -- keys: what two ways of writing a term share ----------------------------------------------

_TOKENS = RegexTokenizer()  # the stemmed fields' tokenizer


def words(text: str) -> list[str]:
    """The words of `text` as the index's tokenizer splits them, in lower case, stop words kept."""
    return [t.text.lower() for t in _TOKENS(text)]


@lru_cache(maxsize=8192)
def key(word: str) -> str:
    """What every spelling and form of `word` has in common: the least of its spellings' stems."""
    return min(stem(w) for w in spellings(word))


def keys(text: str) -> tuple[str, ...]:
    return tuple(key(w) for w in words(text))


# -- synonyms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synonyms:
    """Groups of terms that mean the same; `find` looks for them in a query's words."""

    groups: tuple[tuple[str, ...], ...] = ()
    version: tuple[int, int] = (0, 0)  # the file's (mtime_ns, size): cached parses are keyed on it

    def __post_init__(self) -> None:
        starts: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for n, group in enumerate(self.groups):
            for term in group:
                ks = keys(term)
                if ks and not all(w in STOPS for w in words(term)):
                    starts.setdefault(ks[0], []).append((ks, n))
        for found in starts.values():
            found.sort(key=lambda kn: -len(kn[0]))  # longest first
        object.__setattr__(self, "_starts", starts)

    def find(self, word_keys: list[str], at: int) -> tuple[int, tuple[str, ...]] | None:
        """The longest term of a group that `word_keys` spell from position `at`: (how many words
        it takes, the group's other terms), or None."""
        for ks, n in self._starts.get(word_keys[at], ()):  # type: ignore[attr-defined]
            if tuple(word_keys[at : at + len(ks)]) == ks:
                return len(ks), tuple(t for t in self.groups[n] if keys(t) != ks)
        return None


class SynonymsFile:
    """The synonyms file of a knowledge base, read again when it changes (staff edit it)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._synonyms = Synonyms()

    def current(self) -> Synonyms:
        if self.path is None:
            return self._synonyms
        try:
            info = self.path.stat()
            version = (info.st_mtime_ns, info.st_size)
        except OSError:
            version = (0, 0)
        if version != self._synonyms.version:
            groups, problems = synonyms_file.read(self.path) if version != (0, 0) else ([], [])
            for p in problems:
                log.warning("synonyms: %s (run kb validate)", p)
            self._synonyms = Synonyms(tuple(g.terms for g in groups), version)
        return self._synonyms


# -- spelling correction ----------------------------------------------------------------------


def distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, change, swap two letters) from `a` to `b`; `limit` + 1 when more."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return min(row[-1], limit + 1)


def allowed_edits(word: str) -> int:
    """How far a correction may be from `word`: none for 3 letters or fewer, one up to 5, then two."""
    return 0 if len(word) <= 3 else 1 if len(word) <= 5 else 2


# endings the stemmer takes off, to compare a typed word with the words a stem stands for
_ENDS = (
    "",
    *["e", "s", "es", "er", "ers", "ed", "ing", "ion", "ions", "ation", "al", "ic", "ity", "ment", "ence", "ance"],
)


def forms(term: str) -> list[str]:
    """Words that stem to the stem `term`: itself, with an ending, or with its `i` made `y`."""
    bases = [term, term[:-1] + "y", term[:-1] + "ies"] if term.endswith("i") else [term]
    return [w for w in dict.fromkeys(b + e for b in bases for e in _ENDS) if stem(w) == term]


def closest(word: str, terms: Iterable[tuple[str, int]]) -> list[tuple[int, int, str]]:
    """The index terms (stems, with their document counts) near `word` (as typed): nearest first
    and, as near, commonest first, as (edits, -documents, term). A term's distance is the least
    from `word` or its stem to the term or a word that stems to it (`forms`)."""
    limit = allowed_edits(word)
    if not limit:
        return []
    typed = {word, stem(word)}
    found = []
    for term, docs in terms:
        if term in typed or min(distance(t, term, limit + 2) for t in typed) > limit + 2:
            continue  # the stem alone is more than two endings' worth away
        edits = min(distance(t, w, limit) for t in typed for w in [term, *forms(term)])
        if edits <= limit:
            found.append((edits, -docs, term))
    return sorted(found)


def surface(typed: str, term: str, seen: Iterable[str] = ()) -> str:
    """A word to show for the stem `term` when `typed` was meant, the nearest to `typed` (then
    the one ending most like it) of: the words `seen` in the index's text that stem to it (given
    one edit's start: they are real words) and, when `typed` lost an ending to the stemmer,
    `term` given that ending; with no word seen, the words `forms` makes of `term`."""
    typed = typed.lower()
    seen = {w.lower() for w in seen if stem(w.lower()) == term}
    typed_stem = stem(typed)
    options = set(seen) if seen else set(forms(term))
    if typed_stem != typed:
        common = len(_common_prefix(typed_stem, typed))
        options.add(term[: len(term) - (len(typed_stem) - common)] + typed[common:])
    options = {w for w in options if w and stem(w) == term}
    if not options:
        return term
    return min(options, key=lambda w: (distance(w, typed, 99) - (w in seen), -_common_suffix(w, typed), w))


def _common_suffix(a: str, b: str) -> int:
    return len(_common_prefix(a[::-1], b[::-1]))


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]
