"""Text processing for suggestions: tokens, stop words, n-grams, watch terms, an entry's key text."""

from __future__ import annotations

import re
from collections import defaultdict

from kb.model.entry import Entry, Risk

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "across",
        "after",
        "again",
        "against",
        "all",
        "almost",
        "along",
        "already",
        "also",
        "although",
        "always",
        "am",
        "among",
        "an",
        "and",
        "another",
        "any",
        "anyone",
        "anything",
        "are",
        "around",
        "as",
        "at",
        "away",
        "back",
        "be",
        "became",
        "because",
        "become",
        "becomes",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "cannot",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "either",
        "else",
        "enough",
        "even",
        "ever",
        "every",
        "few",
        "first",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "getting",
        "give",
        "given",
        "go",
        "goes",
        "going",
        "gone",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "last",
        "least",
        "less",
        "let",
        "like",
        "likely",
        "made",
        "make",
        "makes",
        "making",
        "many",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "near",
        "need",
        "needs",
        "never",
        "new",
        "next",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "others",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "per",
        "perhaps",
        "put",
        "rather",
        "really",
        "said",
        "same",
        "say",
        "says",
        "see",
        "seen",
        "several",
        "shall",
        "she",
        "should",
        "since",
        "so",
        "some",
        "something",
        "still",
        "such",
        "take",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "though",
        "three",
        "through",
        "thus",
        "to",
        "today",
        "too",
        "two",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "use",
        "used",
        "uses",
        "using",
        "very",
        "via",
        "was",
        "way",
        "we",
        "well",
        "were",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "year",
        "years",
        "week",
        "weeks",
        "day",
        "days",
        "month",
        "months",
        "time",
        "times",
        "people",
        "told",
        "news",
        "report",
        "reports",
        "reported",
        "according",
        "read",
        "more",
        "continue",
        "reading",
        "post",
        "posted",
        "appeared",
        "first",
        "update",
        "updated",
        "latest",
        "week's",
        "today's",
        "via",
        "amp",
        "nbsp",
        "click",
        "here",
        "full",
        "story",
        "article",
        "articles",
        "blog",
        "newsletter",
        "subscribe",
        "share",
        "comment",
        "comments",
        "sign",
        "free",
        "available",
        "mr",
        "mrs",
        "ms",
        "dr",
        "inc",
        "ltd",
        "co",
        "com",
        "www",
        "http",
        "https",
        "org",
        "net",
        "uk",
        "us",
        "eu",
        "part",
        "parts",
        "set",
        "including",
        "include",
        "includes",
        "included",
        "across",
        "around",
        "still",
        "could",
        "would",
        "also",
        "another",
        "however",
        "although",
        "though",
    ]
)


_TOKENS = re.compile(r"[a-z0-9]+(?:['’\-][a-z0-9]+)*|[.,;:!?()\[\]{}\"“”|/<>–—]")


_CONTENT: dict[str, str | None] = {}  # token -> its normal form, or None for a stop word (a cache)


def normalise(token: str) -> str:
    """A light plural fold so that 'drones' and 'drone' count as one term."""
    token = token.replace("’", "'")
    if token.endswith("'s"):
        token = token[:-2]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is", "ics")):
        return token[:-1]
    return token


def _content(token: str) -> str | None:
    known = _CONTENT.get(token, "")
    if known != "":
        return known
    norm = normalise(token)
    value = (
        None
        if (token in STOPWORDS or norm in STOPWORDS or norm.isdigit() or len(norm) < 2 or not token[0].isalnum())
        else norm
    )
    if len(_CONTENT) > 200_000:
        _CONTENT.clear()
    _CONTENT[token] = value
    return value


def ngrams(text: str, max_n: int = 3) -> set[str]:
    """Normalised 1- to 3-word phrases of content words (not across punctuation or stop words).
    Single words shorter than four letters are left out."""
    out: set[str] = set()
    run: list[str] = []
    for token in _TOKENS.findall(text.lower()) + ["."]:
        norm = _content(token)
        if norm is not None:
            run.append(norm)
            continue
        n = len(run)
        for i in range(n):
            if len(run[i]) >= 4:
                out.add(run[i])
            if i + 1 < n:
                out.add(f"{run[i]} {run[i + 1]}")
                if max_n > 2 and i + 2 < n:
                    out.add(f"{run[i]} {run[i + 1]} {run[i + 2]}")
        run = []
    return out


def surface(key: str, text: str) -> str:
    """How `key` (a normalised phrase) is written in `text`, e.g. 'smart glasses'."""
    words = key.split(" ")
    tokens = _TOKENS.findall(text.lower())
    for i in range(len(tokens) - len(words) + 1):
        if all(_content(tokens[i + j]) == words[j] for j in range(len(words))):
            return " ".join(tokens[i : i + len(words)])
    return key


_WORD = re.compile(r"[a-z0-9]+")


def _norm_keyword(keyword: str) -> str:
    return " ".join(w for w in re.split(r"[\s\-]+", keyword.lower().strip()) if w)


class WatchTerms:
    """Every entry's watch terms in one matcher: case-insensitive, hyphens and spaces alike,
    an optional plural 's'/'es'. A term found inside a longer one counts too. With `synonyms`
    (the groups of entries/synonyms.yaml), a synonym of a watch term counts as that term."""

    def __init__(self, entries: list[Entry], synonyms: list[tuple[str, ...]] = ()):  # type: ignore[assignment]
        self.owners: dict[str, list[tuple[str, str]]] = defaultdict(list)  # normalised term -> [(slug, term)]
        group_of = {_norm_keyword(t): g for g in synonyms for t in g}
        for entry in entries:
            for keyword in entry.keywords or (entry.title,):
                norm = _norm_keyword(keyword)
                for key in [norm, *(_norm_keyword(t) for t in group_of.get(norm, ()))]:
                    if key and (entry.slug, keyword) not in self.owners[key]:
                        self.owners[key].append((entry.slug, keyword))
        keys = sorted(self.owners, key=len, reverse=True)
        self.first = {k.split(" ")[0] + end for k in keys for end in ("", "s", "es")}
        self.inside = {k: {o for o in keys if o != k and f" {o} " in f" {k} "} for k in keys}
        body = "|".join(r"[\s\-]+".join(re.escape(w) for w in k.split(" ")) for k in keys)
        self.rx = re.compile(rf"(?:{body})(?:s|es)?(?![\w])") if keys else None

    def find(self, text: str) -> dict[str, list[str]]:
        """Entry slug -> the entry's watch terms that `text` mentions."""
        if self.rx is None:
            return {}
        low = text.lower()
        found: set[str] = set()
        for word in _WORD.finditer(low):
            if word.group() not in self.first or (word.start() and low[word.start() - 1] == "_"):
                continue
            m = self.rx.match(low, word.start())
            if not m:
                continue
            key = _norm_keyword(m.group())
            for candidate in (key, key[:-1], key[:-2]):
                if candidate in self.owners:
                    found.add(candidate)
                    found.update(self.inside[candidate])
                    break
        out: dict[str, list[str]] = defaultdict(list)
        for key in found:
            for slug, keyword in self.owners[key]:
                out[slug].append(keyword)
        return out


def key_text(entry: Entry) -> str:
    """The text an entry's key terms are drawn from: its core, with the title and watch terms
    repeated so that they weigh more than words that merely recur in the body."""
    parts = [entry.title] * 2 + [" ".join(entry.keywords)] * 3 + [entry.summary]
    parts += [f"{r.title}. {r.description}" for r in entry.risks]
    return "\n".join(p for p in parts if p)


def risk_text(risk: Risk) -> str:
    """The text one risk's key terms are drawn from: its title (twice), description and crime types."""
    return "\n".join([risk.title, risk.title, risk.description, " ".join(risk.crime_types).replace("-", " ")])


def entry_text(entry: Entry) -> str:
    """The text that says what an entry is about, for new-topic detection: title, keywords,
    tags, summary, and its risks' titles and descriptions. Not measures or body: a topic named
    in passing there (one measure against "SIM farms") is not covered by the entry."""
    parts = [entry.title, " ".join(entry.keywords), " ".join(entry.tags).replace("-", " "), entry.summary]
    parts += [f"{r.title}. {r.description}" for r in entry.risks]
    return "\n".join(p for p in parts if p)
