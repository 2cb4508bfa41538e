"""The search page: query box, highlighted snippets, facets, pagination, friendly syntax errors,
and notes on the results: a corrected query, "Did you mean ...?", results with some of the words.

Staff (only) can search the feed items instead (`kind=item`, a tab on the page): their own index
(`Workspace.items`), each hit with its title, feed, date, an escaped snippet and its link (http(s)
only). For anyone else `kind=item` is ignored and notes are searched."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from kb.errors import QueryError
from kb.site.catalog import FACET_KINDS, facet_label
from kb.web import common
from kb.web.common import conditional
from kb.web.state import catalog, cfg, state

bp = Blueprint("search", __name__)
MAX_PAGE = 500


def page_number() -> int:
    try:
        return min(MAX_PAGE, max(1, int(request.args.get("page", "1"))))
    except ValueError:
        return 1


def refinements() -> dict[str, str]:
    return {kind: request.args[kind] for kind in FACET_KINDS if request.args.get(kind)}


def search_url(q: str, refine: dict[str, str], page: int = 1) -> str:
    return url_for("search.search", q=q, **refine, **({"page": page} if page > 1 else {}))


@bp.get("/search")
def search():  # type: ignore[no-untyped-def]
    reader, cat = common.current_reader(), catalog()
    q = request.args.get("q", "").strip()
    items = reader.is_staff and request.args.get("kind") == "item"
    refine, page = ({"kind": "item"} if items else refinements()), page_number()
    shared = dict(search_url=search_url, staff=reader.is_staff, items=items, facets=[], pages=[])
    if not q:
        return conditional(
            ("search-form", cat.token(reader), items),
            None,
            lambda: render_template("search.html", q="", results=None, error=None, refine=refine, **shared),
        )
    try:
        cat.check_query(q)
    except QueryError as exc:
        return render_template("search.html", q=q, results=None, error=str(exc), refine=refine, **shared), 400
    if items:
        return _item_search(q, page, shared)

    def render() -> str:  # runs only when this page is not already cached (see `conditional`)
        found = cat.search(reader, q, page=page, per_page=cfg().site.per_page, refine=refine)
        results = found.results
        return render_template(
            "search.html",
            q=q,
            results=results,
            notes=found.notes,
            error=None,
            refine=refine,
            facets=_facets(q, refine, results.facets),
            pages=_pages(q, refine, results.page, results.pages),
            search_url=search_url,
            staff=reader.is_staff,
            items=False,
        )

    # the synonyms file changes what a query finds, so the page depends on it too
    parts = ("search", cat.token(reader), cat.index.synonyms_version(), q, sorted(refine.items()), page)
    return conditional(parts, None, render)


def _item_search(q: str, page: int, shared: dict[str, Any]) -> str:
    """Feed items matching `q` (staff only: the caller checks), from the items' own index."""
    ws = state().workspace
    results = ws.items.search(q, kinds=("item",), page=page, per_page=cfg().site.per_page)
    feeds = {str(r[0]): r[1] or r[2] for r in ws.store.db.execute("SELECT id, title, url FROM feed_state")}
    shown = []
    for hit in results.hits:
        link = str(hit.fields.get("link") or "")
        shown.append(
            {
                "title": hit.title or "(no title)",
                "feed": feeds.get(str(hit.fields.get("feed", "")), ""),
                "published": hit.fields.get("published"),
                "snippet": hit.snippet,  # escaped by kb.index.snippets, the matched words in <mark>
                "link": link if link.lower().startswith(("https://", "http://")) else "",
            }
        )
    refine = {"kind": "item"}
    return render_template(
        "search.html",
        q=q,
        results=results,
        notes={},
        found_items=shown,
        error=None,
        refine=refine,
        **{**shared, "pages": _pages(q, refine, results.page, results.pages)},
    )


def _facets(q: str, refine: dict[str, str], counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Each facet with its values: count, whether chosen, and the link that adds or removes it."""
    out = []
    for kind in FACET_KINDS:
        values = []
        for value, count in counts.get(kind, {}).items():
            chosen = refine.get(kind) == value
            narrowed = {k: v for k, v in refine.items() if k != kind}
            if not chosen:
                narrowed[kind] = value
            values.append(
                {
                    "value": value,
                    "label": facet_label(kind, value),
                    "count": count,
                    "chosen": chosen,
                    "href": search_url(q, narrowed),
                }
            )
        if values or kind in refine:
            out.append({"kind": kind, "values": values})
    return out


def _pages(q: str, refine: dict[str, str], page: int, pages: int) -> list[dict[str, Any]]:
    """Pagination items for govukPagination: first, last, and two either side of the current page."""
    items: list[dict[str, Any]] = []
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    previous = 0
    for number in shown:
        if number - previous > 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": search_url(q, refine, number), "current": number == page})
        previous = number
    return items if pages > 1 else []
