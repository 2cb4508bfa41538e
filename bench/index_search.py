"""Index and search benchmark (issue 2): Horizon KB (SQLite rows + Whoosh) beside SQLite FTS5.

Builds a deterministic synthetic knowledge base of N entries, then prints, for each size:
full-index time, one-file re-index time, and search latency (p50/p95) per query class, warm
(with and without snippets) and first-time (no postings cached from earlier searches), next
to an FTS5 table over the same text (ranked with `ORDER BY rank`, the same column weights).
Then a fresh web worker of each side (bench/fresh_worker.py: Horizon KB's site, and a plain
Flask page over FTS5) answers its first search page, 100 new queries, and a search after each
of 5 edits, and reports its memory. No assertions on time: the targets of issues 2 and 14 are
printed beside the numbers, with Whoosh/FTS5 ratios.

    .venv/bin/python bench/index_search.py                  # 1,000 and 10,000 entries
    .venv/bin/python bench/index_search.py --sizes 1000 --queries 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from kb.index.search import Hit, entry_document
from kb.model import taxonomy as tx
from kb.model.entry import Entry, read_entry
from kb.sync import update_index
from kb.workspace import Workspace

SEED = 20240611
ORGS_USED = ["police-scotland", "nca", "bank-forum", "telco-isac"]  # registered in config.toml
TARGETS = {  # at 10,000 entries: issue 2 (index, p95) and issue 14 (a fresh worker's page)
    "full": 60.0,
    "incremental": 1.0,
    "p95_ms": 20.0,
    "first_ms": 500.0,
    "new_p95_ms": 30.0,
    "after_edit_ms": 100.0,
    "rss_mb": 200.0,
}
NEW_QUERIES = 100  # new queries per fresh worker
EDITS = 5
HERE = Path(__file__).resolve().parent

# -- vocabulary ------------------------------------------------------------------------------

STOP = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "if",
    "so",
    "no",
    "will",
    "can",
    "more",
    "other",
    "its",
    "may",
    "also",
    "about",
    "into",
    "than",
    "them",
    "these",
    "some",
    "could",
    "only",
    "over",
    "such",
    "our",
    "any",
    "most",
    "should",
    "very",
    "after",
    "where",
    "both",
    "those",
    "through",
    "between",
    "each",
    "while",
    "however",
    "because",
    "against",
    "without",
    "within",
]

GENERAL = [
    "policy",
    "evidence",
    "market",
    "device",
    "network",
    "service",
    "system",
    "data",
    "user",
    "account",
    "access",
    "security",
    "police",
    "offender",
    "victim",
    "crime",
    "harm",
    "risk",
    "threat",
    "criminal",
    "fraud",
    "theft",
    "offence",
    "court",
    "prison",
    "sentence",
    "partner",
    "industry",
    "manufacturer",
    "retailer",
    "platform",
    "operator",
    "regulator",
    "standard",
    "government",
    "law",
    "guidance",
    "report",
    "study",
    "survey",
    "analysis",
    "trend",
    "growth",
    "cost",
    "price",
    "value",
    "profit",
    "payment",
    "money",
    "bank",
    "card",
    "transfer",
    "online",
    "digital",
    "mobile",
    "software",
    "hardware",
    "firmware",
    "update",
    "patch",
    "vulnerability",
    "attack",
    "exploit",
    "breach",
    "password",
    "credential",
    "identity",
    "verification",
    "authentication",
    "encryption",
    "key",
    "signal",
    "sensor",
    "camera",
    "video",
    "image",
    "location",
    "tracking",
    "monitoring",
    "detection",
    "prevention",
    "design",
    "measure",
    "control",
    "barrier",
    "lock",
    "alarm",
    "vehicle",
    "car",
    "van",
    "lorry",
    "delivery",
    "parcel",
    "shop",
    "store",
    "warehouse",
    "factory",
    "supply",
    "chain",
    "component",
    "product",
    "consumer",
    "customer",
    "public",
    "community",
    "school",
    "hospital",
    "office",
    "home",
    "house",
    "property",
    "building",
    "perimeter",
    "information",
    "communication",
    "message",
    "email",
    "website",
    "app",
    "application",
    "cloud",
    "server",
    "database",
    "record",
    "investigation",
    "intelligence",
    "enforcement",
    "regulation",
    "licence",
    "registration",
    "certification",
    "audit",
    "review",
    "incident",
    "case",
    "example",
    "pattern",
    "method",
    "technique",
    "tool",
    "equipment",
    "material",
    "printer",
    "metal",
    "plastic",
    "resin",
    "battery",
    "charger",
    "power",
    "energy",
    "grid",
    "meter",
    "water",
    "transport",
    "rail",
    "airport",
    "port",
    "border",
    "customs",
    "import",
    "export",
    "cash",
    "wallet",
    "exchange",
    "token",
    "asset",
    "currency",
    "investment",
    "scam",
    "victimisation",
    "vulnerability",
    "awareness",
    "training",
    "education",
    "campaign",
    "advice",
    "warning",
    "label",
    "instruction",
    "default",
    "setting",
    "configuration",
    "feature",
    "market",
    "demand",
    "supply",
    "seller",
    "buyer",
    "broker",
    "forum",
    "marketplace",
    "dark",
    "web",
    "criminal",
    "group",
    "gang",
    "organised",
    "serious",
    "violent",
    "weapon",
    "firearm",
    "knife",
    "drug",
    "cannabis",
    "cocaine",
    "smuggling",
    "trafficking",
    "laundering",
    "extortion",
    "harassment",
    "stalking",
    "abuse",
    "exploitation",
    "child",
    "young",
    "people",
    "adult",
    "elderly",
    "business",
    "small",
    "large",
    "national",
    "local",
    "regional",
    "international",
    "european",
    "british",
    "uk",
    "london",
    "police",
    "force",
    "constabulary",
    "agency",
    "office",
    "home",
    "department",
    "ministry",
    "committee",
    "parliament",
    "act",
    "bill",
    "regulation",
    "directive",
    "framework",
    "strategy",
    "plan",
    "programme",
    "pilot",
    "trial",
    "evaluation",
    "outcome",
    "impact",
    "effect",
    "benefit",
    "barrier",
    "challenge",
    "opportunity",
    "capability",
    "capacity",
    "resource",
    "budget",
    "funding",
    "investment",
    "innovation",
    "research",
    "development",
    "technology",
    "emerging",
    "future",
    "horizon",
    "scanning",
    "foresight",
    "scenario",
    "forecast",
    "likelihood",
    "probability",
    "severity",
    "consequence",
]

TOPICS: dict[str, dict[str, list[str]]] = {
    "drones": {
        "words": [
            "drone",
            "drones",
            "quadcopter",
            "uav",
            "payload",
            "geofence",
            "geofencing",
            "airspace",
            "pilot",
            "flight",
            "rotor",
            "contraband",
            "yard",
            "wall",
            "prison",
            "surveillance",
            "reconnaissance",
            "jammer",
            "detection",
        ],
        "phrases": [
            "contraband delivery",
            "drone detection",
            "prison walls",
            "flight controller",
            "remote identification",
        ],
        "tags": ["drones", "robotics", "airspace"],
        "category": "devices",
    },
    "printing": {
        "words": [
            "printing",
            "printer",
            "printed",
            "additive",
            "filament",
            "resin",
            "blueprint",
            "firearm",
            "gun",
            "receiver",
            "polymer",
            "extruder",
            "lathe",
            "cad",
            "file",
            "counterfeit",
            "spare",
        ],
        "phrases": [
            "printed firearm",
            "3d printing",
            "digital blueprint",
            "additive manufacturing",
            "printed components",
        ],
        "tags": ["3d-printing", "manufacturing", "firearms"],
        "category": "manufacturing",
    },
    "crypto": {
        "words": [
            "bitcoin",
            "ethereum",
            "cryptoasset",
            "cryptocurrency",
            "crypto",
            "blockchain",
            "wallet",
            "mixer",
            "exchange",
            "stablecoin",
            "defi",
            "token",
            "ransom",
            "ransomware",
            "laundering",
            "seed",
            "phrase",
        ],
        "phrases": ["ransomware payment", "crypto wallet", "seed phrase", "smart contract", "mixing service"],
        "tags": ["cryptoassets", "payments", "ransomware"],
        "category": "money",
    },
    "vehicles": {
        "words": [
            "keyless",
            "relay",
            "fob",
            "immobiliser",
            "ignition",
            "canbus",
            "obd",
            "vehicle",
            "car",
            "theft",
            "signal",
            "amplifier",
            "telematics",
            "charging",
            "ev",
            "tracker",
        ],
        "phrases": ["relay attack", "keyless entry", "key fob", "vehicle theft", "signal amplifier"],
        "tags": ["vehicles", "keyless", "telematics"],
        "category": "mobility",
    },
    "iot": {
        "words": [
            "iot",
            "smart",
            "doorbell",
            "thermostat",
            "camera",
            "router",
            "botnet",
            "firmware",
            "default",
            "password",
            "bluetooth",
            "zigbee",
            "hub",
            "lock",
            "speaker",
        ],
        "phrases": ["default password", "smart lock", "connected home", "firmware update", "security camera"],
        "tags": ["iot", "smart-home", "botnets"],
        "category": "devices",
    },
    "ai": {
        "words": [
            "phishing",
            "deepfake",
            "chatbot",
            "llm",
            "synthetic",
            "voice",
            "clone",
            "impersonation",
            "generative",
            "model",
            "prompt",
            "spam",
            "social",
            "engineering",
            "lure",
        ],
        "phrases": ["phishing email", "voice cloning", "synthetic media", "social engineering", "deepfake video"],
        "tags": ["ai", "phishing", "deepfakes"],
        "category": "information",
    },
}
SECTORS = [
    "prisons",
    "retail",
    "banking",
    "insurance",
    "telecoms",
    "transport",
    "energy",
    "health",
    "education",
    "logistics",
    "automotive",
    "manufacturing",
    "hospitality",
    "government",
    "policing",
    "critical-infrastructure",
]
CRIME_TYPES = [
    "fraud",
    "theft",
    "burglary",
    "smuggling",
    "drugs-supply",
    "extortion",
    "money-laundering",
    "harassment",
    "stalking",
    "firearms-offences",
    "counterfeiting",
    "vehicle-crime",
    "cyber-crime",
    "identity-theft",
    "criminal-damage",
]
PUBLISHERS = [
    "Home Office",
    "NCSC",
    "Europol",
    "HM Inspectorate of Prisons",
    "Ofcom",
    "Action Fraud",
    "National Crime Agency",
    "University College London",
    "RUSI",
    "ENISA",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ter",
    "sen",
    "dra",
    "vin",
    "pol",
    "ra",
    "tis",
    "mon",
    "gal",
    "bre",
    "nu",
    "cor",
    "fen",
    "lit",
    "ras",
    "ven",
    "dor",
    "pha",
    "sil",
    "qua",
    "tro",
    "mer",
    "bal",
    "cen",
    "dis",
    "gra",
    "hol",
    "jun",
    "kel",
    "mar",
    "nol",
    "pen",
    "ros",
    "sta",
    "tul",
    "vor",
    "wex",
    "yan",
    "zel",
]


def build_vocabulary(rng: random.Random, size: int = 3000) -> tuple[list[str], list[float]]:
    """Words in rank order with Zipf cumulative weights: stop words first, then content words."""
    content = list(dict.fromkeys(GENERAL))
    topic_words = [w for t in TOPICS.values() for w in t["words"]]
    made: set[str] = set(content) | set(topic_words) | set(STOP)
    while len(content) + len(STOP) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in made:
            made.add(word)
            content.append(word)
    rng.shuffle(content)
    # topic words get background occurrences everywhere, at mid ranks
    for w in topic_words:
        content.insert(rng.randint(150, 1500), w)
    words = STOP + content
    weights = list(accumulate(1.0 / (rank**1.05) for rank in range(1, len(words) + 1)))
    return words, weights


# -- synthetic entries ---------------------------------------------------------------------------


@dataclass
class Synth:
    rng: random.Random
    words: list[str]
    cum: list[float]

    def draw(self, k: int, topic: dict) -> list[str]:
        out = self.rng.choices(self.words, cum_weights=self.cum, k=k)
        for i in range(len(out)):
            r = self.rng.random()
            if r < 0.06:
                out[i] = self.rng.choice(topic["words"])
            elif r < 0.075:
                out[i] = self.rng.choice(topic["phrases"])
        return out

    def sentence(self, topic: dict, lo: int = 8, hi: int = 18) -> str:
        text = " ".join(self.draw(self.rng.randint(lo, hi), topic))
        return text[0].upper() + text[1:] + "."

    def body(self, topic: dict, target_words: int = 600) -> str:
        parts, count = [], 0
        headings = ["Background", "How the crime works", "Evidence", "What partners can do", "Outlook"]
        for heading in headings:
            parts.append(f"## {heading}\n")
            for _ in range(self.rng.randint(1, 2)):
                para = []
                for _ in range(self.rng.randint(3, 6)):
                    s = self.sentence(topic)
                    count += s.count(" ") + 1
                    para.append(s)
                parts.append(" ".join(para) + "\n")
            if count >= target_words:
                break
        while count < target_words:
            s = self.sentence(topic)
            count += s.count(" ") + 1
            parts[-1] = parts[-1].rstrip("\n") + " " + s + "\n"
        return "\n".join(parts)


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def flow(items: Iterable[str], quote: bool = False) -> str:
    return "[" + ", ".join(q(i) if quote else i for i in items) + "]"


def entry_text(s: Synth, i: int, slug: str, slugs: list[str], topic_name: str) -> str:
    rng = s.rng
    topic = TOPICS[topic_name]
    status = rng.choices(["published", "review", "draft", "archived"], [85, 7, 5, 3])[0]
    tlp = rng.choices(["clear", "green", "amber", "red"], [80, 12, 5, 3])[0]
    reviewed = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 900))
    tags = list(
        dict.fromkeys(
            rng.sample(topic["tags"], rng.randint(1, 3))
            + rng.sample([t for o in TOPICS.values() for t in o["tags"]], rng.randint(0, 2))
        )
    )
    sectors = rng.sample(SECTORS, rng.randint(1, 3))
    if topic_name == "drones" and "prisons" not in sectors and rng.random() < 0.6:
        sectors.append("prisons")
    drivers = rng.sample(list(tx.DRIVERS), rng.randint(1, 3))
    keywords = list(dict.fromkeys(rng.sample(topic["words"], 3) + rng.sample(topic["phrases"], 1)))
    lines = [
        "---",
        f"title: {q(title_for(s, topic_name, i))}",
        f"summary: {q(s.sentence(topic, 18, 30))}",
        f"status: {status}",
        f"tlp: {tlp}",
    ]
    if tlp == "amber":
        lines.append(f"share_with: {flow(rng.sample(ORGS_USED, 2))}")
    lines += [
        f"category: {topic['category']}",
        f"horizon: {rng.choice(list(tx.HORIZON))}",
        f"maturity: {rng.choice(list(tx.MATURITY))}",
        f"reviewed: {reviewed.isoformat()}",
        f"tags: {flow(tags)}",
        f"sectors: {flow(sectors)}",
        f"drivers: {flow(drivers)}",
        f"keywords: {flow(keywords, quote=True)}",
        "risks:",
    ]
    for r in range(rng.randint(3, 5)):
        lines += [
            f"  - id: risk-{r + 1}",
            f"    title: {q(s.sentence(topic, 4, 8).rstrip('.'))}",
            f"    description: {q(s.sentence(topic, 12, 24))}",
            f"    role: {rng.choice(list(tx.ROLE))}",
            f"    crime_types: {flow(rng.sample(CRIME_TYPES, rng.randint(1, 3)))}",
            f"    drivers: {flow(rng.sample(list(tx.DRIVERS), rng.randint(0, 2)))}",
            f"    likelihood: {rng.randint(1, 5)}",
            f"    impact: {rng.randint(1, 5)}",
            f"    confidence: {rng.choice(list(tx.CONFIDENCE))}",
            f"    trend: {rng.choice(list(tx.TREND))}",
            "    measures:",
        ]
        for _ in range(rng.randint(1, 3)):
            lines += [
                f"      - actor: {rng.choice(list(tx.ACTORS))}",
                f"        measure: {q(s.sentence(topic, 8, 16))}",
                f"        mechanism: {rng.choice(list(tx.MECHANISM))}",
                f"        status: {rng.choice(list(tx.MEASURE_STATUS))}",
            ]
            if rng.random() < 0.2:
                lines.append(f"        reference: {q('PSTI Act 2022')}")
    lines.append("sources:")
    for n in range(rng.randint(1, 3)):
        lines.append(f"  - title: {q(s.sentence(topic, 3, 7).rstrip('.'))}")
        lines.append(f"    publisher: {q(rng.choice(PUBLISHERS))}")
        if rng.random() < 0.5:
            lines.append(f"    url: https://example.org/reports/{slug}/{n}")
        lines.append(f"    date: {rng.randint(2015, 2025)}")
    others = [o for o in rng.sample(slugs, min(len(slugs), 4)) if o != slug][: rng.randint(0, 3)]
    lines.append(f"related: {flow(others)}")
    lines.append("---")
    return "\n".join(lines) + "\n" + s.body(topic) + "\n"


ADJECTIVES = [
    "Autonomous",
    "Consumer",
    "Connected",
    "Low-cost",
    "Industrial",
    "Open-source",
    "Cloud-based",
    "Next-generation",
    "Wearable",
    "Portable",
    "Networked",
    "Synthetic",
    "Decentralised",
]
NOUNS = {
    "drones": ["drones", "quadcopters", "delivery drones", "drone swarms"],
    "printing": ["3D printers", "4D printing", "metal printing", "printed firearms"],
    "crypto": ["crypto wallets", "bitcoin ATMs", "stablecoins", "DeFi exchanges"],
    "vehicles": ["keyless cars", "EV chargers", "vehicle telematics", "car sharing"],
    "iot": ["smart locks", "video doorbells", "smart meters", "home hubs"],
    "ai": ["voice cloning", "AI chatbots", "deepfake tools", "phishing kits"],
}


def title_for(s: Synth, topic: str, i: int) -> str:
    return f"{s.rng.choice(ADJECTIVES)} {s.rng.choice(NOUNS[topic])} {i}"


def generate(root: Path, n: int) -> tuple[int, list[str]]:
    """Write N entries to root/entries; returns total bytes and the slugs."""
    rng = random.Random(SEED + n)
    words, cum = build_vocabulary(rng)
    s = Synth(rng, words, cum)
    entries = root / "entries"
    entries.mkdir(parents=True)
    topics = list(TOPICS)
    plan = [(i, topics[rng.randrange(len(topics))]) for i in range(n)]
    slugs = [f"{topic}-{i:05d}" for i, topic in plan]
    total = 0
    for (i, topic), slug in zip(plan, slugs, strict=False):
        data = entry_text(s, i, slug, slugs, topic).encode()
        (entries / f"{slug}.md").write_bytes(data)
        total += len(data)
    (root / "feeds").mkdir()
    (root / "config.toml").write_text(
        "".join(f'[[organisations]]\nslug = "{o}"\nname = "{o.upper()}"\n\n' for o in ORGS_USED), encoding="utf-8"
    )
    return total, slugs


# -- queries -------------------------------------------------------------------------------------

QUERY_CLASSES: dict[str, tuple[list[str], list[str]]] = {
    # class: (Whoosh queries, the FTS5 equivalents, index for index)
    "single-term": (
        [
            "drone",
            "printing",
            "bitcoin",
            "relay",
            "phishing",
            "ransomware",
            "firmware",
            "contraband",
            "wallet",
            "keyless",
        ],
        [
            "drone",
            "printing",
            "bitcoin",
            "relay",
            "phishing",
            "ransomware",
            "firmware",
            "contraband",
            "wallet",
            "keyless",
        ],
    ),
    "multi-term AND": (
        [
            "drone AND prison",
            "bitcoin AND ransomware",
            "relay AND keyless",
            "phishing AND bank",
            "printing AND firearm",
            "firmware AND botnet",
            "wallet AND exchange AND fraud",
        ],
        [
            "drone AND prison",
            "bitcoin AND ransomware",
            "relay AND keyless",
            "phishing AND bank",
            "printing AND firearm",
            "firmware AND botnet",
            "wallet AND exchange AND fraud",
        ],
    ),
    "phrase": (
        [
            '"relay attack"',
            '"seed phrase"',
            '"contraband delivery"',
            '"default password"',
            '"phishing email"',
            '"printed firearm"',
        ],
        [
            '"relay attack"',
            '"seed phrase"',
            '"contraband delivery"',
            '"default password"',
            '"phishing email"',
            '"printed firearm"',
        ],
    ),
    "field": (
        ["sector:prisons", "sector:retail", "tag:drones", "tag:cryptoassets", "sector:banking", "tag:phishing"],
        ["sectors:prisons", "sectors:retail", "tags:drones", "tags:cryptoassets", "sectors:banking", "tags:phishing"],
    ),
    "prefix": (
        ["drone*", "crypto*", "ransom*", "phish*", "print*", "wallet*"],
        ["drone*", "crypto*", "ransom*", "phish*", "print*", "wallet*"],
    ),
}

FTS_COLUMNS = ["title", "summary", "body", "risks", "measures", "keywords", "tags", "sectors"]
FTS_WEIGHTS = "3.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0"  # title x3, keywords x2, as the Whoosh schema


def fts_row(entry: Entry) -> tuple[str, ...]:
    doc = entry_document(entry)
    return (
        doc["title"],
        doc["summary"],
        doc["body"],
        doc["risks"],
        doc["measures"],
        doc["keywords"],
        " ".join(entry.tags),
        " ".join(entry.sectors),
    )


# -- measuring -----------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latencies(run: Callable[[str], object], queries: list[str]) -> tuple[float, float]:
    for text in dict.fromkeys(queries):  # warm: every distinct query once
        run(text)
    times = []
    for text in queries:
        t0 = time.perf_counter()
        run(text)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), pct(times, 0.95)


@dataclass
class Row:
    label: str
    whoosh: float
    fts: float
    unit: str
    target: float | None = None


@dataclass
class SizeResult:
    n: int
    mbytes: float
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def touch_file(path: Path, k: int) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"\nEdited for the benchmark, revision {k}.\n", encoding="utf-8")


def bench_size(n: int, base: Path, n_queries: int, repeat: int) -> SizeResult:
    root = base / f"kb-{n}"
    if root.exists():
        shutil.rmtree(root)
    print(f"[{n:,}] generating ...", file=sys.stderr, flush=True)
    nbytes, slugs = generate(root, n)
    result = SizeResult(n, nbytes / 1e6)
    result.notes.append("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    # full index: a fresh workspace (empty database and index) each run
    full_times = []
    for run in range(repeat):
        shutil.rmtree(root / "var", ignore_errors=True)
        print(f"[{n:,}] full index ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        ws = Workspace.open(root)
        report = update_index(ws)
        full_times.append(time.perf_counter() - t0)
        assert len(report.read) == n and not report.errors, (len(report.read), report.errors[:3])
        if run < repeat - 1:
            ws.close()
    result.notes.append(f"full index read {len(report.read):,} files, {len(report.problems)} warnings")

    # one-file re-index
    rng = random.Random(SEED)
    inc_times = []
    for k in range(5):
        path = root / "entries" / f"{rng.choice(slugs)}.md"
        touch_file(path, k)
        seconds, report = timed(lambda: update_index(ws))
        inc_times.append(seconds)
        assert report.read == [f"entries/{path.name}"], report.read
    result.notes.append(f"one-file re-index: report.read == {report.read} (exactly 1 file, checked on 5 runs)")

    # FTS5 over the same text: read + parse every file (as a sync would), then insert
    fts_path = root / "var" / "fts.sqlite"
    fts_full = []
    fts_insert = []
    for run in range(repeat):
        fts_path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        entries = [read_entry(p)[0] for p in sorted((root / "entries").glob("*.md"))]
        t1 = time.perf_counter()
        con = sqlite3.connect(fts_path, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(
            f"CREATE VIRTUAL TABLE fts USING fts5(slug UNINDEXED, {', '.join(FTS_COLUMNS)}, "
            "tokenize='porter unicode61')"
        )
        con.execute(f"INSERT INTO fts(fts, rank) VALUES ('rank', 'bm25(0, {FTS_WEIGHTS})')")  # ORDER BY rank
        con.execute("BEGIN")
        con.executemany(
            f"INSERT INTO fts VALUES (?{', ?' * len(FTS_COLUMNS)})", ((e.slug, *fts_row(e)) for e in entries if e)
        )
        con.execute("COMMIT")
        t2 = time.perf_counter()
        fts_full.append(t2 - t0)
        fts_insert.append(t2 - t1)
        if run < repeat - 1:
            con.close()
    parse_s = statistics.median(fts_full) - statistics.median(fts_insert)
    result.notes.append(f"FTS5 full build = read+parse {parse_s:.1f} s + insert {statistics.median(fts_insert):.1f} s")
    rowids = dict(con.execute("SELECT slug, rowid FROM fts"))
    fts_inc = []
    for k in range(5):
        path = root / "entries" / f"{rng.choice(slugs)}.md"
        touch_file(path, 100 + k)
        t0 = time.perf_counter()
        entry = read_entry(path)[0]
        assert entry is not None
        con.execute("BEGIN")
        con.execute(
            f"UPDATE fts SET {', '.join(c + ' = ?' for c in FTS_COLUMNS)} WHERE rowid = ?",
            (*fts_row(entry), rowids[entry.slug]),
        )
        con.execute("COMMIT")
        fts_inc.append(time.perf_counter() - t0)
    update_index(ws)  # keep the Whoosh side in step with the files
    con.commit()
    fresh_workers(result, root, ws, con, rowids, slugs, rng)

    result.rows.append(
        Row("full index", statistics.median(full_times), statistics.median(fts_full), "s", TARGETS["full"])
    )
    result.rows.append(
        Row(
            "one-file re-index",
            statistics.median(inc_times) * 1000,
            statistics.median(fts_inc) * 1000,
            "ms",
            TARGETS["incremental"] * 1000,
        )
    )

    # search latency
    def body(hit: Hit) -> str:  # as kb/cli.py does
        row = ws.store.entry_row(hit.slug)
        return json.loads(row["data"])["body"] if row else ""

    qrng = random.Random(SEED + 1)
    fts_sql = f"SELECT slug, title FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, 0, {FTS_WEIGHTS}) LIMIT 10"
    fts_snip = (
        f"SELECT slug, title, snippet(fts, -1, '<mark>', '</mark>', ' … ', 24) FROM fts WHERE fts MATCH ? "
        f"ORDER BY bm25(fts, 0, {FTS_WEIGHTS}) LIMIT 10"
    )
    for cls, (wq, fq) in QUERY_CLASSES.items():
        picks = [qrng.randrange(len(wq)) for _ in range(n_queries)]
        hits_w = [ws.index.search(wq[i], per_page=10).total for i in range(len(wq))]
        hits_f = [
            con.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (fq[i],)).fetchone()[0] for i in range(len(fq))
        ]
        result.notes.append(f"{cls}: matches per query, Whoosh {hits_w} / FTS5 {hits_f}")
        for snip in (False, True):
            w_run = (
                (lambda t: ws.index.search(t, per_page=10, snippet_text=body))
                if snip
                else (lambda t: ws.index.search(t, per_page=10))
            )
            f_run = (
                (lambda t: con.execute(fts_snip, (t,)).fetchall())
                if snip
                else (lambda t: con.execute(fts_sql, (t,)).fetchall())
            )
            w50, w95 = latencies(w_run, [wq[i] for i in picks])
            f50, f95 = latencies(f_run, [fq[i] for i in picks])
            label = f"{cls}{' +snippets' if snip else ''}"
            result.rows.append(Row(f"{label} p50", w50, f50, "ms"))
            result.rows.append(Row(f"{label} p95", w95, f95, "ms", TARGETS["p95_ms"]))
        # first time: nothing read by earlier searches is kept (the searcher itself stays open)
        w50, w95 = latencies(
            lambda t: (ws.index.clear_cache(), ws.index.search(t, per_page=10)), [wq[i] for i in picks]
        )
        f50, f95 = latencies(lambda t: con.execute(fts_sql, (t,)).fetchall(), [fq[i] for i in picks])
        result.rows.append(Row(f"{cls} first-time p50", w50, f50, "ms"))
        result.rows.append(Row(f"{cls} first-time p95", w95, f95, "ms"))
    con.close()
    ws.close()
    result.notes.append("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    result.notes.append(
        "Whoosh full index = Workspace.open + sync (parse, SQLite rows, index); FTS5 = parse + insert; "
        "re-index: Whoosh a whole incremental sync, FTS5 parse + UPDATE of one row"
    )
    return result


def new_queries(count: int) -> list[str]:
    """`count` distinct two-word queries from the topics' words: none was asked before."""
    words = sorted({w for t in TOPICS.values() for w in t["words"] if " " not in w})
    rng, out = random.Random(SEED + 2), dict.fromkeys([])
    while len(out) < count:
        out[" ".join(rng.sample(words, 2))] = None
    return list(out)


def ask(proc: subprocess.Popen, q: str) -> dict:
    proc.stdin.write(json.dumps({"q": q}) + "\n")
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    assert answer["ok"], answer
    return answer


def fresh_workers(
    result: SizeResult, root: Path, ws: Workspace, con: sqlite3.Connection, rowids: dict, slugs: list[str], rng
) -> None:
    """A fresh worker of each site (bench/fresh_worker.py): first search, new queries, after edits, memory."""
    queries = new_queries(NEW_QUERIES + EDITS + 1)
    first, new, after = queries[0], queries[1 : NEW_QUERIES + 1], queries[NEW_QUERIES + 1 :]
    measured: dict[str, dict[str, float]] = {}
    for side in ("kb", "fts"):
        args = [sys.executable, str(HERE / "fresh_worker.py"), side, str(root), str(root / "var" / "fts.sqlite")]
        print(f"[{result.n:,}] fresh {side} worker ...", file=sys.stderr, flush=True)
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)
        try:
            boot = json.loads(proc.stdout.readline())
            m = {"boot": boot["boot_ms"], "first": ask(proc, first)["ms"]}
            times = [ask(proc, q)["ms"] for q in new]
            m["new50"], m["new95"] = statistics.median(times), pct(times, 0.95)
            edits = []
            for k, q in enumerate(after):
                path = root / "entries" / f"{rng.choice(slugs)}.md"
                touch_file(path, 200 + k)
                if side == "kb":
                    update_index(ws)
                else:
                    entry = read_entry(path)[0]
                    con.execute(
                        f"UPDATE fts SET {', '.join(c + ' = ?' for c in FTS_COLUMNS)} WHERE rowid = ?",
                        (*fts_row(entry), rowids[entry.slug]),
                    )
                    con.commit()
                edits.append(ask(proc, q)["ms"])
            m["edit50"], m["edit_max"] = statistics.median(edits), max(edits)
            m["rss"] = ask(proc, first)["rss_mb"]
        finally:
            proc.stdin.close()
            proc.wait(timeout=60)
        measured[side] = m
    kb, fts = measured["kb"], measured["fts"]
    result.rows += [
        Row("fresh worker: boot", kb["boot"], fts["boot"], "ms"),
        Row("fresh worker: first search page", kb["first"], fts["first"], "ms", TARGETS["first_ms"]),
        Row("new-query search page p50", kb["new50"], fts["new50"], "ms"),
        Row("new-query search page p95", kb["new95"], fts["new95"], "ms", TARGETS["new_p95_ms"]),
        Row("search page after an edit, median", kb["edit50"], fts["edit50"], "ms"),
        Row("search page after an edit, worst", kb["edit_max"], fts["edit_max"], "ms", TARGETS["after_edit_ms"]),
        Row("worker RSS after the searches", kb["rss"], fts["rss"], "MB", TARGETS["rss_mb"]),
    ]
    result.notes.append(
        f"fresh workers: {NEW_QUERIES} new two-word queries and {EDITS} edits (each followed by a new query), "
        "through each site's /search page in its own process; FTS5 = a plain Flask page, ORDER BY rank, "
        f"snippets for the {20} hits shown"
    )


def print_result(r: SizeResult) -> None:
    print()
    print(f"== {r.n:,} entries ({r.mbytes:.1f} MB of Markdown) ==")
    head = f"{'':36} {'Whoosh':>10} {'FTS5':>10} {'Whoosh/FTS5':>12}  {'target':>9}"
    print(head)
    print("-" * len(head))
    for row in r.rows:
        ratio = row.whoosh / row.fts if row.fts else float("inf")
        fmt = "{:10.2f}"
        target = ""
        if row.target is not None:
            verdict = "ok" if row.whoosh < row.target else "MISSED"
            target = f"<{row.target:g} {verdict}" if r.n >= 10000 else f"({row.target:g})"
        print(
            f"{row.label + ' (' + row.unit + ')':36} {fmt.format(row.whoosh)} {fmt.format(row.fts)} "
            f"{ratio:11.1f}x  {target:>9}"
        )
    for note in r.notes:
        print(f"  {note}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="entry counts (default: 1000 10000)")
    ap.add_argument("--queries", type=int, default=200, help="timed queries per class (default: 200)")
    ap.add_argument("--repeat", type=int, default=1, help="full-index runs per size; the median is shown (default: 1)")
    ap.add_argument("--out", type=Path, help="folder for the generated knowledge bases (kept); default a temp dir")
    args = ap.parse_args(argv)
    base = args.out or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    print(
        f"Horizon KB index/search benchmark: Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs; {args.queries} queries per class, warm; times are medians; folder {base}"
    )
    try:
        for n in args.sizes:
            print_result(bench_size(n, base, args.queries, max(1, args.repeat)))
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)
    print(
        "\nTargets apply at 10,000 entries: full index < 60 s, one-file re-index < 1 s, "
        "search p95 < 20 ms per class (issue 2); on a fresh worker, first search page < 500 ms, new-query "
        "page p95 < 30 ms, page after an edit < 100 ms, RSS < 200 MB (issue 14)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
