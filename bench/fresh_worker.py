"""One fresh web worker, driven by bench/index_search.py: the first search after a restart,
new (never asked before) queries, searches after an edit, and the worker's memory.

Started as a child process so that nothing is warm but the operating system's file cache
(the same for both sides). It reads one JSON request per line on stdin and answers each on
stdout: `{"q": text}` runs a search page and answers with its time and the worker's RSS.

    kb   ROOT          Horizon KB's own site (create_app), searched through /search
    fts  ROOT FTS_DB   a plain Flask site over an SQLite FTS5 table (`ORDER BY rank`, a snippet
                       for the 20 hits shown only), the fair baseline
"""

from __future__ import annotations

import json
import sys
import time

PAGE = 20


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def kb_site(root: str):  # type: ignore[no-untyped-def]
    from kb.web import create_app

    client = create_app(root).test_client()
    return lambda q: client.get("/search", query_string={"q": q})


def fts_site(db: str):  # type: ignore[no-untyped-def]
    import sqlite3

    from flask import Flask, render_template_string, request

    app = Flask(__name__)
    page = (
        "<!doctype html><title>Search</title><h1>{{ total }} results for {{ q }}</h1>"
        "{% for slug, title, snip in hits %}<h3><a href='/entries/{{ slug }}'>{{ title }}</a></h3>"
        "<p>{{ snip | safe }}</p>{% endfor %}"
    )
    con = sqlite3.connect(db, check_same_thread=False)

    @app.get("/search")
    def search():  # type: ignore[no-untyped-def]
        q = request.args.get("q", "")
        match = " ".join(f'"{w}"' for w in q.split())
        total = con.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
        hits = con.execute(
            "SELECT slug, title, snippet(fts, -1, '<mark>', '</mark>', ' … ', 24) FROM fts "
            f"WHERE fts MATCH ? ORDER BY rank LIMIT {PAGE}",
            (match,),
        ).fetchall()
        return render_template_string(page, q=q, total=total, hits=hits)

    client = app.test_client()
    return lambda q: client.get("/search", query_string={"q": q})


def main() -> int:
    t0 = time.perf_counter()
    get = kb_site(sys.argv[2]) if sys.argv[1] == "kb" else fts_site(sys.argv[3])
    print(json.dumps({"boot_ms": (time.perf_counter() - t0) * 1000, "rss_mb": rss_mb()}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)["q"]
        t = time.perf_counter()
        response = get(q)
        ms = (time.perf_counter() - t) * 1000
        ok = response.status_code == 200
        print(json.dumps({"ms": ms, "ok": ok, "rss_mb": rss_mb()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
