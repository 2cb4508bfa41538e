"""Every HTML fragment shown to a reader passes through here: Markdown and feed content alike."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import markdown as _markdown
import nh3

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
}
_SCHEMES = {"http", "https", "mailto"}
_MD_EXTENSIONS = ["extra", "sane_lists", "smarty"]


def clean_html(html: str, base_url: str | None = None) -> str:
    """Sanitise an HTML fragment: safe tags only, http(s)/mailto links, no scripts or styles.

    With `base_url` (feed content), relative links are made absolute against it; a relative
    link with no usable base is dropped.
    """
    options = {}
    if base_url is not None:
        options["url_relative"] = ("rewrite_with_base", base_url) if safe_url(base_url) else "deny"
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        **options,
    )


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML."""
    return clean_html(_markdown.markdown(text, extensions=_MD_EXTENSIONS, output_format="html"))


_WS = re.compile(r"\s+")


def to_text(html: str) -> str:
    """Plain text of an HTML fragment (tags removed, entities kept decoded, spaces folded)."""
    import html as _html

    stripped = nh3.clean(html, tags=set(), attributes={})
    return _WS.sub(" ", _html.unescape(stripped)).strip()


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) URL, else None (never a `javascript:` link)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return None
    return url


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # and bidi overrides


def printable(text: str) -> str:
    """`text` without control characters (ESC, BEL, CSI and the rest of C0 and C1, but newline
    and tab): what is safe to print to a terminal, whatever a feed put in it."""
    return _CONTROL.sub("", text)


def printable_data(value: Any) -> Any:
    """`printable` applied to every string in a row, list or nested structure."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {k: printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable_data(v) for v in value)
    return value
