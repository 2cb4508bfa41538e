"""The feed list, `feeds/feeds.yaml`: read and validate it, change it without losing its comments,
and move it to and from OPML (how feed lists travel between readers).

Edits are textual: adding a feed appends its lines after the last feed, removing one deletes
its lines, and a permanent redirect or a 410 rewrites one value in place. Every edit is parsed
and checked again before the file is replaced (atomically), so a mistake never reaches disk.

Feeds are told apart by `normalise_url`: `HTTP://Host:80/x#top` and `http://host/x` are one
feed (listed twice, refused when added, found by `remove` and the poller either way), while
the file keeps each URL as written.

Locking: every edit holds the feeds folder's write lock (`kb.files.lock`, an flock shared by
all processes) from reading the file to replacing it. Reads need no lock: the file is only
ever replaced whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from kb.errors import KbError, Problem
from kb.files.atomic import write_atomic
from kb.files.lock import write_lock
from kb.model.entry import SLUG_RE
from kb.model.frontmatter import FrontMatterError, refuse_anchors
from kb.model.sanitize import safe_url

try:  # libyaml is faster; PyYAML's wheels ship it
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

FIELDS = ("url", "title", "tags", "interval", "enabled", "technology")
REQUIRED = ("url", "title", "tags", "interval", "enabled")
HEADER = """\
# Feeds polled by `kb poll` and the scheduler. One item per feed; see feeds/README.md.
# url: the feed's address (http/https); title: a display name; tags: slugs;
# interval: minutes between polls; enabled: true/false;
# technology: optional slug of the entry this feed is mostly about.
"""


class FeedListError(KbError):
    """The feed list cannot be read, or an edit to it would break it."""


@dataclass(frozen=True)
class Feed:
    url: str
    title: str
    tags: tuple[str, ...] = ()
    interval: int = 60  # minutes
    enabled: bool = True
    technology: str | None = None
    line: int = field(default=0, compare=False)  # where the feed starts in feeds.yaml (1-based)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "title": self.title,
            "tags": list(self.tags),
            "interval": self.interval,
            "enabled": self.enabled,
        }
        if self.technology:
            out["technology"] = self.technology
        return out


# -- reading ---------------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """The form in which feed URLs are compared: scheme and host lower-cased, the default port
    (:80 for http, :443 for https) dropped, the fragment removed, an empty path made "/".
    Path and query are kept as they are (servers may tell their case apart)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a malformed port or host: compare the text as written
        return text
    scheme = parts.scheme.lower()
    host = parts.hostname or ""  # lower-cased, IPv6 brackets removed
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}@{host}" if at else host
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


@dataclass
class _Item:
    node: yaml.MappingNode | None
    start: int  # 0-based line of the item's "- "
    dash_col: int
    values: dict[str, yaml.Node]


@dataclass
class _Parsed:
    text: str
    root: yaml.Node | None
    feeds_key: yaml.Node | None
    feeds_value: yaml.Node | None
    items: list[_Item]
    data: Any


def _parse(text: str, shown: str) -> _Parsed:
    try:
        refuse_anchors(text, offset=1)  # an alias bomb would take exponential time to build
    except FrontMatterError as exc:
        raise FeedListError(f"{shown}:{exc.line}: {exc.message.replace('front matter', 'the feed list')}") from None
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise FeedListError(
            f"{shown}:{line}: YAML syntax error: {exc.problem or exc.context}; "
            "check the indentation and quote titles that contain ': ' or ' #'"
        ) from exc
    except yaml.YAMLError as exc:
        raise FeedListError(f"{shown}: YAML error: {exc}") from exc
    finally:
        loader.dispose()
    feeds_key = feeds_value = None
    items: list[_Item] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "feeds":
                feeds_key, feeds_value = key, value
        if isinstance(feeds_value, yaml.SequenceNode):
            lines = text.splitlines()
            for node in feeds_value.value:
                line = node.start_mark.line
                dash = lines[line].rfind("-", 0, node.start_mark.column) if line < len(lines) else -1
                values = {k.value: v for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}
                items.append(_Item(node if isinstance(node, yaml.MappingNode) else None, line, max(dash, 0), values))
    elif root is not None and not (isinstance(root, yaml.ScalarNode) and root.value in ("", "~", "null")):
        raise FeedListError(f"{shown}:1: the feed list must be a mapping with a 'feeds:' list; see feeds/README.md")
    return _Parsed(text, root, feeds_key, feeds_value, items, data)


def _url_error(url: Any, start: int, seen: dict[str, int]) -> str | None:
    """What is wrong with a feed's url, or None; a good url is recorded in `seen` (normalised url
    -> line), so the same feed written another way (`HTTP://Host/x#y`) is listed twice."""
    if not isinstance(url, str) or not safe_url(url):
        return f"url must be a full http:// or https:// address, got {url!r}"
    key = normalise_url(url)
    if key in seen:
        return f"{url.strip()} is listed twice (first on line {seen[key]}); keep one"
    seen[key] = start
    return None


def _tags_errors(tags: Any) -> list[str]:
    """What is wrong with a feed's tags: not a list, or one message per tag that is not a slug."""
    if not isinstance(tags, list):
        return ["tags must be a list of slugs, e.g. tags: [drones, news]"]
    return [
        f"tags must be lower-case slugs like 'law-enforcement'; got {tag!r}"
        for tag in tags
        if not isinstance(tag, str) or not SLUG_RE.match(tag)
    ]


def _value_errors(raw: dict[Any, Any], start: int, seen: dict[str, int]) -> list[tuple[str, str]]:
    """(field, message) for each present field whose value is of the wrong kind, in field order."""
    errors: list[tuple[str, str]] = []
    url = raw.get("url")
    if url is not None and (message := _url_error(url, start, seen)):
        errors.append(("url", message))
    title = raw.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        errors.append(("title", f"title must be text, got {title!r}"))
    tags = raw.get("tags")
    if tags is not None:
        errors.extend(("tags", message) for message in _tags_errors(tags))
    interval = raw.get("interval")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval < 1):
        errors.append(("interval", f"interval must be a whole number of minutes (1 or more), got {interval!r}"))
    enabled = raw.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        errors.append(("enabled", f"enabled must be true or false, got {enabled!r}"))
    tech = raw.get("technology")
    if tech is not None and (not isinstance(tech, str) or not SLUG_RE.match(tech)):
        errors.append(("technology", f"technology must be an entry slug like 'consumer-drones', got {tech!r}"))
    return errors


def _check_item(raw: Any, item: _Item, shown: str, seen: dict[str, int]) -> tuple[Feed | None, list[Problem]]:
    path = Path(shown)
    start = item.start + 1

    def at(key: str) -> int:
        node = item.values.get(key)
        return node.start_mark.line + 1 if node is not None else start

    if not isinstance(raw, dict):
        return None, [
            Problem(
                path, start, "each feed must be a mapping of 'field: value' lines (url, title, tags, interval, enabled)"
            )
        ]
    problems = [Problem(path, at(key), f"{key} is required") for key in REQUIRED if raw.get(key) is None]
    problems += [
        Problem(path, at(str(key)), f"unknown feed field {key!r} is ignored (known: {', '.join(FIELDS)})", "warning")
        for key in raw
        if key not in FIELDS
    ]
    problems += [Problem(path, at(key), message) for key, message in _value_errors(raw, start, seen)]
    if any(p.severity == "error" for p in problems):
        return None, problems
    return Feed(
        url=raw["url"].strip(),
        title=raw["title"].strip(),
        tags=tuple(raw["tags"]),
        interval=raw["interval"],
        enabled=raw["enabled"],
        technology=raw.get("technology"),
        line=start,
    ), problems


def parse_text(text: str, shown: str = "feeds/feeds.yaml") -> tuple[list[Feed], list[Problem]]:
    """Every valid feed in `text`, and every problem (a bad feed is left out, the rest kept)."""
    parsed = _parse(text, shown)
    problems: list[Problem] = []
    feeds: list[Feed] = []
    data = parsed.data
    if data is None:
        return [], []
    if isinstance(data, dict):
        for key in data:
            if key != "feeds":
                problems.append(Problem(Path(shown), 1, f"unknown top-level field {key!r} is ignored", "warning"))
    raw_feeds = data.get("feeds") if isinstance(data, dict) else None
    if raw_feeds is None:
        return [], problems
    if not isinstance(raw_feeds, list):
        line = parsed.feeds_key.start_mark.line + 1 if parsed.feeds_key else 1
        return [], problems + [Problem(Path(shown), line, "feeds must be a list of feeds, each starting with '- url:'")]
    seen: dict[str, int] = {}
    for raw, item in zip(raw_feeds, parsed.items, strict=False):
        feed, found = _check_item(raw, item, shown, seen)
        problems.extend(found)
        if feed:
            feeds.append(feed)
    return feeds, problems


def load(path: Path, shown: str | None = None) -> tuple[list[Feed], list[Problem]]:
    """Read `feeds.yaml` (a missing file is an empty list)."""
    if not path.exists():
        return [], []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FeedListError(f"{shown or path}: not UTF-8 text; save it as UTF-8") from exc
    return parse_text(text, shown or str(path))


def find(feeds: list[Feed], url: str) -> Feed | None:
    """The listed feed at `url`, however its scheme and host are cased (see `normalise_url`)."""
    key = normalise_url(url)
    return next((f for f in feeds if normalise_url(f.url) == key), None)


# -- editing ---------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    """`value` as a YAML scalar: plain when that reads back the same, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text and text == text.strip() and "\n" not in text and text[0] not in "'\"!&*|>%@`{[,?-#":
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text}:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def render(feed: Feed, dash_col: int = 2) -> list[str]:
    pad = " " * dash_col
    lines = [
        f"{pad}- url: {_scalar(feed.url)}",
        f"{pad}  title: {_scalar(feed.title)}",
        f"{pad}  tags: [{', '.join(feed.tags)}]",
        f"{pad}  interval: {feed.interval}",
        f"{pad}  enabled: {_scalar(feed.enabled)}",
    ]
    if feed.technology:
        lines.append(f"{pad}  technology: {feed.technology}")
    return lines


def _item_end(lines: list[str], item: _Item) -> int:
    """The index of the first line after `item` (its deeper-indented lines belong to it)."""
    end = item.start + 1
    j = end
    while j < len(lines):
        line = lines[j]
        if not line.strip():
            j += 1
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= item.dash_col:
            break
        j += 1
        end = j
    return end


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _edit(path: Path, shown: str, change: Any) -> list[Feed]:
    """Read the file, apply `change(text, parsed) -> new_text`, check the result, write atomically,
    all under the feeds folder's write lock: staff views, `kb feeds` and the poller (a moved or
    gone feed) may edit the list from different processes, and none may undo another's edit."""
    with write_lock(path.parent):
        return _edit_locked(path, shown, change)


def _edit_locked(path: Path, shown: str, change: Any) -> list[Feed]:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER + "feeds:\n"
    new_text = change(text, _parse(text, shown))
    feeds, problems = parse_text(new_text, shown)
    before, before_problems = parse_text(text, shown) if path.exists() else ([], [])
    old_errors = {p.message for p in before_problems if p.severity == "error"}
    new_errors = [p for p in problems if p.severity == "error" and p.message not in old_errors]
    if new_errors:
        raise FeedListError(
            "the change would break the feed list, so it was not made: " + "; ".join(map(str, new_errors))
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, new_text)
    return feeds


def add_feeds(path: Path, new: list[Feed], shown: str = "feeds/feeds.yaml") -> list[Feed]:
    """Append feeds after the last one. Refuses a URL that is already listed (in any form that
    `normalise_url` makes the same)."""
    existing, _ = load(path, shown) if path.exists() else ([], [])
    known = {normalise_url(f.url): f.url for f in existing}
    for feed in new:
        listed = known.get(normalise_url(feed.url))
        if listed is not None:
            also = "" if listed == feed.url else f" as {listed}"
            raise FeedListError(f"{feed.url} is already in {shown}{also}; remove it first or edit the file")
        known[normalise_url(feed.url)] = feed.url

    def change(text: str, parsed: _Parsed) -> str:
        nl = _newline(text)
        lines = text.splitlines()
        if parsed.items:
            last = parsed.items[-1]
            dash = parsed.items[0].dash_col
            at = _item_end(lines, last)
            block = [line for f in new for line in render(f, dash)]
            return nl.join(lines[:at] + block + lines[at:]) + nl
        block = [line for f in new for line in render(f, 2)]
        value = parsed.feeds_value
        if parsed.feeds_key is not None:
            line_no = parsed.feeds_key.start_mark.line
            if (
                value is not None
                and not (isinstance(value, yaml.ScalarNode) and value.value in ("", "~", "null"))
                and not (isinstance(value, yaml.SequenceNode) and not value.value)
            ):
                raise FeedListError(f"{shown}:{line_no + 1}: feeds must be a list; fix it by hand first")
            line = lines[line_no]
            comment = ""
            if "#" in line:
                head, _, tail = line.partition(" #")
                comment = f"  #{tail}" if tail else ""
            lines[line_no] = "feeds:" + comment
            return nl.join(lines[: line_no + 1] + block + lines[line_no + 1 :]) + nl
        if parsed.root is not None and not isinstance(parsed.root, yaml.ScalarNode):
            lines.append("feeds:")
            return nl.join(lines + block) + nl
        return nl.join([*(lines or HEADER.splitlines()), "feeds:", *block]) + nl

    return _edit(path, shown, change)


def remove_feed(path: Path, url: str, shown: str = "feeds/feeds.yaml") -> Feed:
    """Delete a feed's lines (and a comment right above it that is not a section heading)."""
    feeds, _ = load(path, shown)
    target = find(feeds, url)
    if target is None:
        raise FeedListError(f"no feed {url!r} in {shown}; see kb feeds list")

    def change(text: str, parsed: _Parsed) -> str:
        nl = _newline(text)
        lines = text.splitlines()
        item = _item_for(parsed, url)
        start, end = item.start, _item_end(lines, item)
        while start > 0:
            above = lines[start - 1]
            stripped = above.strip()
            indent = len(above) - len(above.lstrip())
            if stripped.startswith("#") and indent == item.dash_col and "---" not in stripped:
                start -= 1
            else:
                break
        return nl.join(lines[:start] + lines[end:]) + nl

    _edit(path, shown, change)
    return target


def _item_for(parsed: _Parsed, url: str) -> _Item:
    key = normalise_url(url)
    for item in parsed.items:
        node = item.values.get("url")
        if isinstance(node, yaml.ScalarNode) and normalise_url(node.value) == key:
            return item
    raise FeedListError(f"no feed {url!r} in the feed list")


def update_feed(
    path: Path,
    url: str,
    *,
    new_url: str | None = None,
    enabled: bool | None = None,
    note: str | None = None,
    shown: str = "feeds/feeds.yaml",
) -> None:
    """Change one feed's url or enabled flag in place, keeping every other byte; `note` becomes a
    comment on the changed line."""

    def change(text: str, parsed: _Parsed) -> str:
        item = _item_for(parsed, url)
        edits: list[tuple[int, int, str]] = []  # (start index, end index, replacement)
        lines = text.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        comment = f"  # {note}" if note else ""
        inserts: list[str] = []
        for key, value in (("url", new_url), ("enabled", enabled)):
            if value is None:
                continue
            node = item.values.get(key)
            if isinstance(node, yaml.ScalarNode):
                line_end = offsets[node.end_mark.line] + len(lines[node.end_mark.line].rstrip("\r\n"))
                rest = text[node.end_mark.index : line_end]
                edits.append((node.start_mark.index, node.end_mark.index, _scalar(value)))
                if comment and (not rest.strip() or rest.lstrip().startswith("#")):
                    edits.append((node.end_mark.index, line_end, comment))  # replaces an older note
            else:
                inserts.append(f"{' ' * (item.dash_col + 2)}{key}: {_scalar(value)}{comment}")
        new = text
        for start, end, replacement in sorted(edits, reverse=True):
            new = new[:start] + replacement + new[end:]
        if inserts:
            nl = _newline(new)
            new_lines = new.splitlines()
            end = _item_end(new_lines, _item_for(_parse(new, shown), new_url or url))
            new = nl.join(new_lines[:end] + inserts + new_lines[end:]) + nl
        return new

    feeds = _edit(path, shown, change)
    wanted = new_url or url
    if find(feeds, wanted) is None:  # pragma: no cover - _edit's checks make this unreachable
        raise FeedListError(f"could not update {url} in {shown}")


# -- OPML ------------------------------------------------------------------------------------
