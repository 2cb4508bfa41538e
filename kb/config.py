"""Settings from `config.toml`, with defaults that work when the file is absent.

Paths in the file are resolved against the folder that holds it. Every value is checked
where it is read (type, range, text, folders), and every problem is reported at once, by
key, in one `ConfigError`. The `[[organisations]]` tables are the register of organisations:
the only slugs an entry's `share_with` and a partner's organisation may name.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.errors import ConfigError

CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class FeedSettings:
    allow_private: bool = False  # tests allow 127.0.0.1; production never should
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 30.0  # seconds for a whole fetch, redirects included (stops slow drips)
    parse_timeout: float = 10.0  # seconds to parse one document (in a child process, killed after)
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 8
    default_interval: int = 60  # minutes
    max_backoff: int = 24 * 60  # minutes
    user_agent: str = "HorizonKB/0.1 (+feed poller)"


@dataclass(frozen=True)
class SuggestSettings:
    update_threshold: float = 0.35  # share of an entry's best-match score an item must reach
    min_keyword_hits: int = 1
    topic_window_days: int = 14
    topic_min_items: int = 3
    topic_min_feeds: int = 2


@dataclass(frozen=True)
class SiteSettings:
    title: str = "Horizon KB"
    base_url: str = "http://127.0.0.1:5000"
    green_community: str = "Horizon KB partner network (signed-in industry and law-enforcement partners)"
    per_page: int = 20
    proxies: int = 0  # reverse proxies in front of the site whose X-Forwarded-For and -Proto are trusted


@dataclass(frozen=True)
class AccountSettings:
    # Argon2id at its minimum cost, so that a test suite making hundreds of accounts runs in
    # seconds. Never in production: `kb serve` and the web app warn loudly when it is on.
    test_hashing: bool = False
    session_days: int = 14  # a session ends this many days after sign-in, whatever happens meanwhile


@dataclass(frozen=True)
class MailSettings:
    """An SMTP server for `kb mail test` and the digests (kb.mail); mail is off while `host` is empty."""

    host: str = ""  # empty: mail is off
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    user: str = ""  # empty: no sign-in to the server
    password_env: str = ""  # the NAME of the environment variable holding the password, never the password
    from_address: str = ""
    timeout: float = 20.0  # seconds for each step of talking to the server

    @property
    def enabled(self) -> bool:
        return bool(self.host.strip())


@dataclass(frozen=True)
class Organisation:
    """One `[[organisations]]` table: an organisation partners belong to and notes are shared with."""

    slug: str  # what share_with and `kb users add --org` name
    name: str
    email_domain: str | None = None  # its people's addresses; a partner's elsewhere is warned about


@dataclass(frozen=True)
class Config:
    root: Path
    entries_dir: Path
    feeds_dir: Path
    var_dir: Path
    review_days: int = 365
    feeds: FeedSettings = field(default_factory=FeedSettings)
    suggest: SuggestSettings = field(default_factory=SuggestSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    organisations: tuple[Organisation, ...] = ()

    @property
    def organisation_slugs(self) -> frozenset[str]:
        """The registered organisations' slugs: all that share_with and a partner's organisation may name."""
        return frozenset(o.slug for o in self.organisations)

    @property
    def db_path(self) -> Path:
        return self.var_dir / "kb.sqlite"

    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def state_path(self) -> Path:
        """What nothing else can recreate: accounts, audit log, feed state and items, triage, entry versions."""
        return self.var_dir / "state.sqlite"

    @property
    def cache_path(self) -> Path:
        """The rows derived from entries/ (`kb index --rebuild` makes them again)."""
        return self.var_dir / "cache.sqlite"

    @property
    def feeds_file(self) -> Path:
        return self.feeds_dir / "feeds.yaml"

    def display(self, path: Path) -> str:
        """A path as the user should see it: relative to the knowledge base when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


_SECTIONS = {
    "feeds": FeedSettings,
    "suggest": SuggestSettings,
    "site": SiteSettings,
    "accounts": AccountSettings,
    "mail": MailSettings,
}
_TOP = {"entries_dir": "entries", "feeds_dir": "feeds", "var_dir": "var", "review_days": 365}  # [kb]: key -> default
_PATHS = ("entries_dir", "feeds_dir", "var_dir")
ORGANISATION_KEYS = {"slug": True, "name": True, "email_domain": False}  # key -> required
_ORG_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # the same shape as an entry's slugs (kb.model.entry)
_ORG_SLUG_MAX = 100  # characters: share_with items are at most this long
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_TEXT_MAX = 500  # characters in any text setting
_BAD = object()  # a value that was refused


@dataclass(frozen=True)
class Bound:
    """The range a number setting must fall in (`above`: strictly more than `low`)."""

    low: float
    high: float
    unit: str = ""
    above: bool = False

    def admits(self, value: float) -> bool:
        return (self.low < value if self.above else self.low <= value) and value <= self.high  # NaN fails both

    def __str__(self) -> str:
        low, high = (int(v) if float(v).is_integer() else v for v in (self.low, self.high))
        return f"more than {low} and at most {high}{self.unit}" if self.above else f"from {low} to {high}{self.unit}"


_SECONDS = Bound(0, 600, " seconds", above=True)
_MINUTES = Bound(1, 7 * 24 * 60, " minutes (a week)")
BOUNDS: dict[str, Bound] = {  # every int and float setting has one (a test checks)
    "kb.review_days": Bound(1, 3650, " days"),
    "site.per_page": Bound(1, 200),
    "site.proxies": Bound(0, 5),
    "accounts.session_days": Bound(1, 365, " days"),
    "feeds.connect_timeout": _SECONDS,
    "feeds.read_timeout": _SECONDS,
    "feeds.total_timeout": _SECONDS,
    "feeds.parse_timeout": _SECONDS,
    "feeds.max_bytes": Bound(1024, 1024**3, " bytes (1 KiB to 1 GiB)"),
    "feeds.max_redirects": Bound(0, 20),
    "feeds.concurrency": Bound(1, 64),
    "feeds.default_interval": _MINUTES,
    "feeds.max_backoff": _MINUTES,
    "suggest.update_threshold": Bound(0, 1),
    "suggest.min_keyword_hits": Bound(1, 100),
    "suggest.topic_window_days": Bound(1, 365, " days"),
    "suggest.topic_min_items": Bound(2, 1000),
    "suggest.topic_min_feeds": Bound(1, 1000),
    "mail.port": Bound(1, 65535),
    "mail.timeout": _SECONDS,
}
MAIL_SECURITY = ("starttls", "tls", "none")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _show(value: Any) -> str:
    """A value as a message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _name(key: str) -> str:
    """A key as a message shows it (TOML allows any text in quotes as a key)."""
    return key if key.isprintable() and len(key) <= 40 else _show(key)


def _text_problem(key: str, value: str) -> str | None:
    if not value.isprintable():
        return "must not contain control characters (tabs, new lines and the like)"
    if len(value) > _TEXT_MAX:
        return f"is {len(value)} characters long; at most {_TEXT_MAX}"
    if key in ("site.title", "site.base_url", "feeds.user_agent") and not value.strip():
        return "must not be empty"
    if key == "feeds.user_agent" and not value.isascii():
        return "must be ASCII text (it is sent in an HTTP header)"
    if key == "mail.security" and value not in MAIL_SECURITY:
        return f"must be one of {', '.join(MAIL_SECURITY)}, got {_show(value)}"
    if key == "mail.password_env" and value and not _ENV_NAME.match(value):
        return "must be the name of an environment variable (such as KB_SMTP_PASSWORD), not a password"
    if key == "mail.from_address" and value and not _ADDRESS.match(value):
        return f"must be an email address such as kb@example.org, got {_show(value)}"
    if key == "site.base_url":
        try:
            parts = urlsplit(value)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:
            ok = False
        if not ok:
            return f"must be an http:// or https:// address such as https://kb.example.org, got {_show(value)}"
    return None


def _setting(key: str, value: Any, default: Any, errors: list[str]) -> Any:
    """`value` as the setting's type, in its range; `_BAD` (and a problem in `errors`) if it is not."""
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        errors.append(f"{key}: expected {expected.__name__}, got {_show(value)}")
        return _BAD
    problem = None
    if expected in (int, float) and key in BOUNDS and not BOUNDS[key].admits(value):
        problem = f"must be {BOUNDS[key]}, got {_show(value)}"
    elif expected is str:
        problem = _text_problem(key, value)
    if problem:
        errors.append(f"{key}: {problem}")
        return _BAD
    return value


def _table(name: str, raw: Any, defaults: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """The good values of one table (`[name]`), every problem added to `errors`."""
    if not isinstance(raw, dict):
        errors.append(f"[{name}] must be a table (a [{name}] line, then 'key = value' lines), got {_show(raw)}")
        return {}
    values = {}
    for key, value in raw.items():
        if key not in defaults:
            errors.append(f"{name}.{_name(key)}: unknown setting (known: {', '.join(sorted(defaults))})")
            continue
        value = _setting(f"{name}.{key}", value, defaults[key], errors)
        if value is not _BAD:
            values[key] = value
    return values


def _organisation(key: str, raw: Any, seen: dict[str, str], errors: list[str]) -> Organisation | None:
    """One `[[organisations]]` table (`key` is how messages name it, e.g. organisations[2])."""
    if not isinstance(raw, dict):
        errors.append(
            f"{key}: must be a table (slug = ..., name = ... lines under [[organisations]]), got {_show(raw)}"
        )
        return None
    values: dict[str, str] = {}
    for setting, value in raw.items():
        if setting not in ORGANISATION_KEYS:
            errors.append(f"{key}.{_name(setting)}: unknown setting (known: {', '.join(sorted(ORGANISATION_KEYS))})")
        elif (value := _setting(f"{key}.{setting}", value, "", errors)) is not _BAD:
            values[setting] = value
    errors.extend(f"{key}.{k}: is required" for k, needed in ORGANISATION_KEYS.items() if needed and k not in raw)
    slug, name, domain = values.get("slug"), values.get("name"), values.get("email_domain")
    if slug is not None and (not _ORG_SLUG.match(slug) or len(slug) > _ORG_SLUG_MAX):
        errors.append(
            f"{key}.slug: must be a lower-case slug (letters, digits, hyphens) of at most {_ORG_SLUG_MAX} "
            f"characters, such as 'acme-drones'; got {_show(slug)}"
        )
    elif slug is not None and slug in seen:
        errors.append(f"{key}.slug: {slug!r} is registered already, by {seen[slug]}; register each slug once")
    elif slug is not None:
        seen[slug] = key
    if name is not None and not name.strip():
        errors.append(f"{key}.name: must not be empty")
    if domain is not None and not _DOMAIN.match(domain.lower()):
        errors.append(f"{key}.email_domain: must be a domain such as 'acme.example' (no @), got {_show(domain)}")
    if slug is None or name is None:
        return None  # a problem was reported: load() raises
    return Organisation(slug=slug, name=name.strip(), email_domain=domain.lower() if domain else None)


def _organisations(raw: Any, errors: list[str]) -> tuple[Organisation, ...]:
    """The register: every `[[organisations]]` table, counted from 1 in messages."""
    if not isinstance(raw, list):
        errors.append(
            "organisations: must be [[organisations]] tables (a [[organisations]] line, then slug = ... and "
            f"name = ... lines), got {_show(raw)}"
        )
        return ()
    seen: dict[str, str] = {}
    found = (_organisation(f"organisations[{i}]", item, seen, errors) for i, item in enumerate(raw, start=1))
    return tuple(o for o in found if o is not None)


def _folder(root: Path, key: str, value: str, errors: list[str]) -> Path:
    """A folder setting resolved against `root`; it may be missing (it is made), but not be a file."""
    try:
        path = (root / value).resolve()
        blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name the system refuses
        errors.append(f"kb.{key}: {_show(value)} cannot be used as a folder ({exc})")
        return root
    if blocker is not None and not blocker.is_dir():
        where = "" if blocker == path else f" ({blocker} is a file)"
        errors.append(f"kb.{key}: {path} is not a folder{where}; point {key} at a folder (it is made if missing)")
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the file ({exc.strerror}); config.toml must be a readable file"
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: the file is not UTF-8 text; save it as UTF-8") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from exc


def load(root: Path | str | None = None) -> Config:
    """Read `config.toml` in `root` (default: $KB_ROOT or the current folder).

    Every value is checked where it is read: its type, its range (`BOUNDS`), text without
    control characters, folders that are not files, organisations' slugs (slug-shaped, each
    once). All problems are reported at once, by key.
    """
    root = Path(root or os.environ.get("KB_ROOT") or ".").resolve()
    path = root / CONFIG_NAME
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder; give --root (or $KB_ROOT) the folder that holds {CONFIG_NAME}")
    raw = _read(path)
    errors: list[str] = []
    top = _table("kb", raw.pop("kb", {}), _TOP, errors)
    organisations = _organisations(raw.pop("organisations", []), errors)
    sections = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            errors.append(f"[{_name(name)}]: unknown section (known: kb, {', '.join(_SECTIONS)}, [[organisations]])")
            continue
        cls = _SECTIONS[name]
        sections[name] = cls(**_table(name, value, {f.name: getattr(cls(), f.name) for f in fields(cls)}, errors))
    folders = {key: _folder(root, key, top.get(key, _TOP[key]), errors) for key in _PATHS}
    if errors:
        raise ConfigError(f"{path}: " + "; ".join(errors))
    return Config(
        root=root,
        review_days=top.get("review_days", _TOP["review_days"]),
        organisations=organisations,
        **folders,
        **sections,
    )
