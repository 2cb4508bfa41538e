"""Files that `kb init` and `kb new` write: a new knowledge base and a new draft entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kb import clock
from kb.errors import KbError
from kb.files.atomic import write_atomic
from kb.files.lock import write_lock
from kb.model.entry import slugify

ENTRY_TEMPLATE = """\
---
title: {title}
summary: >-
  One paragraph a busy reader can act on: what the technology is, the main crime
  risk, and the single most useful thing industry can do about it.
status: draft
tlp: amber               # staff only until shared: name organisations in share_with, or choose clear | green | red
category: devices        # devices | manufacturing | money | information | mobility
horizon: 1-3y            # now | 1-3y | 3-5y | 5-10y
maturity: emerging       # emerging | growing | mainstream
reviewed: {today}
tags: []
sectors: []
drivers: [opportunity]   # opportunity, character, cjs-effectiveness, profit, drugs, alcohol
keywords: []             # watch terms for matching feed items
risks:
  - id: first-risk
    title: Name the crime risk
    description: How the crime works, in a sentence or two.
    role: tool           # target | tool | setting
    crime_types: [fraud]
    likelihood: 3        # 1-5
    impact: 3            # 1-5
    confidence: low      # low | medium | high
    trend: rising        # rising | stable | falling
    measures:
      - actor: manufacturers
        measure: What they should build in to design the risk out.
        mechanism: increase-effort
        status: proposed
sources: []
related: []
---
## Background

## How the crime works

## Evidence

## What partners can do
"""

CONFIG_TEMPLATE = """\
# Horizon KB settings. Every setting is optional: each is shown here at its default,
# commented out; uncomment a line to change it. Paths are relative to this file's folder.
# `kb` reports every unknown or mistyped setting at once, by key.

[kb]
# entries_dir = "entries"
# feeds_dir = "feeds"
# var_dir = "var"          # SQLite database and search index (git-ignored)
# review_days = 365        # an entry is overdue for review this long after `reviewed`

[site]
# title = "Horizon KB"
# base_url = "http://127.0.0.1:5000"   # the public address: feed ids use its host name
# green_community = "Horizon KB partner network (signed-in industry and law-enforcement partners)"
# per_page = 20            # search results per page on the site and the API
# proxies = 0             # reverse proxies in front of the site whose X-Forwarded-For and -Proto are trusted

[feeds]
# allow_private = false    # fetch from private/loopback addresses (tests only)
# connect_timeout = 10.0   # seconds
# read_timeout = 20.0      # seconds
# total_timeout = 30.0     # seconds for a whole fetch, headers and redirects included
# parse_timeout = 10.0     # seconds to parse one document (in a child process)
# max_bytes = 15728640     # the largest feed body accepted (15 MiB)
# max_redirects = 5
# concurrency = 8          # feeds fetched at once
# default_interval = 60    # minutes, for feeds added without one
# max_backoff = 1440       # minutes: the longest wait after errors or a Retry-After
# user_agent = "HorizonKB/0.1 (+feed poller)"

[suggest]
# update_threshold = 0.35  # Whoosh similarity (share of the entry's own score) for an update
# min_keyword_hits = 1     # watch terms (keywords) an item must mention
# topic_window_days = 14   # new topics: recent items of this many days...
# topic_min_items = 3      # ...at least this many...
# topic_min_feeds = 2      # ...from this many feeds

[accounts]
# test_hashing = false     # Argon2id at its lowest cost, for test suites only: never in production
# session_days = 14        # a session ends this many days after sign-in (signing out ends it at once)

[mail]
# host = ""                # the SMTP server; empty: email (kb mail test, digests) is off
# port = 587
# security = "starttls"    # starttls | tls (TLS from the first byte, usually port 465) | none
# user = ""                # empty: no sign-in to the server
# password_env = ""        # the NAME of the environment variable that holds the password (never the password)
# from_address = ""        # the sender of every message, e.g. kb@example.org
# timeout = 20.0           # seconds for each step of talking to the server

# The register of organisations: an entry's `share_with:` and `kb users add --org` accept
# only these slugs (a typo is refused, with the nearest slug). One table per organisation:
# [[organisations]]
# slug = "acme-drones"            # lower-case letters, digits and hyphens; each slug once
# name = "Acme Drones Ltd"
# email_domain = "acme.example"   # optional: a partner's address elsewhere is warned about
"""

FEEDS_TEMPLATE = """\
# Feeds polled by `kb poll` and the scheduler; see `kb feeds --help`.
feeds: []
"""


def new_entry(entries_dir: Path, title: str, today: dt.date | None = None) -> Path:
    """Write a draft entry for `title`; refuses to overwrite an existing file."""
    title = " ".join(title.split())
    if not title:
        raise KbError('give the new entry a title, e.g. kb new "Smart meters"')
    if any(ch in title for ch in "\n:#{}[]"):
        safe_title = '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        safe_title = title
    path = entries_dir / f"{slugify(title)}.md"
    text = ENTRY_TEMPLATE.format(title=safe_title, today=(today or clock.today()).isoformat())
    with write_lock(entries_dir):
        if path.exists():
            raise KbError(f"{path} already exists; open it, or choose another title")
        write_atomic(path, text)
    return path


def init(root: Path) -> list[Path]:
    """Create a new, empty knowledge base in `root` with a sample entry. Returns the files made."""
    if (root / "config.toml").exists():
        raise KbError(f"{root} already has a config.toml; it is a knowledge base already")
    root.mkdir(parents=True, exist_ok=True)
    made = []
    for name, text in (
        ("config.toml", CONFIG_TEMPLATE),
        (".gitignore", "var/\n"),
        ("feeds/feeds.yaml", FEEDS_TEMPLATE),
    ):
        path = root / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            made.append(path)
    made.append(new_entry(root / "entries", "Example technology"))
    return made
