"""Load on the public site: entry page, search page and Atom feed, served by gunicorn.

Builds a deterministic synthetic knowledge base, serves it with gunicorn on 127.0.0.1, and
drives each page with concurrent connections from a second process (threads with
http.client, bounded in time). Each page is shown beside a bare Flask page of the same size
served the same way, so the numbers separate the site's own cost from the server's.

    .venv/bin/python bench/web.py                     # 300 entries, 16 connections, 8 s per page
    .venv/bin/python bench/web.py --entries 1000 --seconds 15 --workers 4

Target: entry page p99 under 50 ms at 16 concurrent connections.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from kb.sync import update_index

HERE = Path(__file__).resolve().parent

WORDS = [
    "drone",
    "relay",
    "theft",
    "fraud",
    "firmware",
    "geofence",
    "payload",
    "wallet",
    "ransomware",
    "scanner",
    "printer",
    "lock",
    "key",
    "signal",
    "tracker",
    "camera",
    "vehicle",
    "battery",
    "cloud",
    "account",
    "sensor",
    "platform",
    "market",
    "courier",
    "prison",
    "border",
]
SECTORS = ["prisons", "retail", "automotive", "banking", "policing", "logistics", "telecoms", "manufacturing"]
TAGS = ["drones", "iot", "crypto", "3d-printing", "vehicles", "ai", "payments", "robotics", "wearables", "locks"]
# Prose: common filler words, plus a long tail of rarer ones, so a query matches some notes,
# not all of them (as in real text).
FILLER = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "on",
    "with",
    "as",
    "by",
    "from",
    "at",
    "this",
    "can",
    "be",
    "are",
    "it",
    "or",
    "their",
    "which",
    "an",
    "used",
    "more",
    "when",
    "into",
    "than",
    "other",
    "these",
    "have",
    "has",
    "may",
]
RARE = [
    a + b + c
    for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "te", "vo", "zi")
    for b in ("ban", "cor", "dex", "fil", "gan", "hol", "jet", "lum", "mor", "nix")
    for c in ("a", "er", "ion", "ous", "ly")
]
ACTORS = ["manufacturers", "retailers", "platforms", "telecoms", "regulators", "police", "operators"]


# -- the synthetic knowledge base ------------------------------------------------------------


def word(rng: random.Random) -> str:
    roll = rng.random()
    return rng.choice(FILLER) if roll < 0.55 else rng.choice(RARE) if roll < 0.97 else rng.choice(WORDS)


def sentence(rng: random.Random, n: int = 14) -> str:
    return " ".join(word(rng) for _ in range(n)).capitalize() + "."


def entry_text(i: int, count: int, rng: random.Random) -> str:
    risks = []
    for r in range(rng.randint(2, 4)):
        measures = "".join(
            f"      - actor: {rng.choice(ACTORS)}\n        measure: {sentence(rng, 10)}\n"
            f"        mechanism: increase-effort\n        status: proposed\n"
            for _ in range(rng.randint(1, 3))
        )
        risks.append(
            f"  - id: risk-{r}\n    title: {sentence(rng, 5)[:-1]}\n    description: {sentence(rng)}\n"
            f"    role: tool\n    crime_types: [theft, fraud]\n    drivers: [profit]\n"
            f"    likelihood: {rng.randint(1, 5)}\n    impact: {rng.randint(1, 5)}\n    trend: rising\n"
            f"    measures:\n{measures}"
        )
    body = "\n\n".join(f"## Part {k}\n\n" + " ".join(sentence(rng) for _ in range(6)) for k in range(5))
    tlp = "green" if i % 10 == 0 else "clear"
    return (
        f"---\ntitle: Technology {i} {rng.choice(WORDS)}\nsummary: {sentence(rng, 25)}\nstatus: published\n"
        f"tlp: {tlp}\ncategory: {rng.choice(['devices', 'manufacturing', 'money', 'information', 'mobility'])}\n"
        f"horizon: {rng.choice(['now', '1-3y', '3-5y', '5-10y'])}\nmaturity: growing\nreviewed: 2026-06-01\n"
        f"tags: [{', '.join(rng.sample(TAGS, 2))}]\nsectors: [{', '.join(rng.sample(SECTORS, 2))}]\n"
        f"drivers: [opportunity, profit]\nkeywords: [{rng.choice(WORDS)}]\nrisks:\n{''.join(risks)}"
        f"sources:\n  - title: Source {i}\n    publisher: Example\n    date: 2025\n"
        f"related: [tech-{(i + 1) % count:04d}, tech-{(i + 7) % count:04d}]\n---\n{body}\n"
    )


def build_kb(root: Path, count: int) -> None:
    if count < 10:
        raise SystemExit("use at least 10 entries")
    rng = random.Random(42)
    (root / "entries").mkdir(parents=True)
    (root / "feeds").mkdir()
    for i in range(count):
        (root / "entries" / f"tech-{i:04d}.md").write_text(entry_text(i, count, rng))
    from kb.workspace import Workspace

    ws = Workspace.open(root)
    try:
        report = update_index(ws)
        if report.errors:
            raise SystemExit(f"synthetic entries do not validate: {report.errors[0]}")
    finally:
        ws.close()


# -- the bare comparison app (gunicorn loads it as web:bare_app()) -----------------------------


def bare_app():  # type: ignore[no-untyped-def]
    from flask import Flask, Response

    size = int(os.environ.get("BENCH_BARE_BYTES", "20000"))
    body = ("<!DOCTYPE html><html><body><p>" + "x" * size)[:size].encode()
    app = Flask("bare")

    @app.get("/")
    def page() -> Response:
        return Response(body, mimetype="text/html")

    return app


# -- serving ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(target: str, port: int, workers: int, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--pythonpath",
        str(HERE),
        target,
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {proc.returncode}: {' '.join(cmd)}") from None
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fetch(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- the load generator (runs as a second process) ----------------------------------------------


def load(url: str, concurrency: int, seconds: float, max_requests: int) -> dict[str, float]:
    """Closed-loop load: each thread sends a request, waits for the whole answer, sends the next."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        rng = random.Random(seed)
        while time.monotonic() < stop_at and len(latencies) + len(mine) < max_requests:
            # "{w}" in the URL: a different query each time, so no cached page can answer it
            target = path.replace("{w}", f"{rng.choice(WORDS)}+OR+{rng.choice(WORDS)}+{rng.choice(WORDS)}")
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                conn.request("GET", target)
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status != 200:
                    bad += 1
                    continue
            except OSError:
                bad += 1
                continue
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors += bad

    began = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "mean": statistics.fmean(latencies) * 1000 if latencies else 0.0,
    }


def drive(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    """Run the load generator in a second process and read its JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, "--load", url, "--concurrency", str(concurrency), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return json.loads(out.stdout)


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=300, help="synthetic entries (default 300)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per page (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--max-requests", type=int, default=200_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(args.load, args.concurrency, args.seconds, args.max_requests)))
        return

    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-web-"))
    site = bare = None
    try:
        root = tmp / "site"  # not "kb": gunicorn puts its cwd on sys.path, and that name is the package
        started = time.perf_counter()
        build_kb(root, args.entries)
        print(
            f"{args.entries} synthetic entries indexed in {time.perf_counter() - started:.1f} s; "
            f"gunicorn -w {args.workers}; {args.concurrency} connections, {args.seconds:g} s per page; "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        port = free_port()
        site = gunicorn("kb.web.wsgi:app", port, args.workers, {"KB_ROOT": str(root)}, tmp)
        base = f"http://127.0.0.1:{port}"
        targets = [
            ("entry page", f"{base}/entries/tech-0001"),
            ("search page, one query", f"{base}/search?q=drone+OR+wallet"),
            ("search page, a new query each time", f"{base}/search?q={{w}}"),
            ("Atom feed", f"{base}/feeds/all.atom"),
        ]
        sizes = {}
        for name, url in targets:
            for _ in range(args.workers * 4):  # warm every worker's caches
                status, body = fetch(url.replace("{w}", "drone+OR+wallet"))
                if status != 200:
                    raise SystemExit(f"{url} answered {status}")
            sizes[name] = len(body)
        rows = []
        for name, url in targets:
            rows.append((name, sizes[name], drive(url, args.concurrency, args.seconds)))
        stop(site)
        site = None
        for name, _ in targets:
            if "new query" in name:
                continue
            port = free_port()
            bare = gunicorn("web:bare_app()", port, args.workers, {"BENCH_BARE_BYTES": str(sizes[name])}, tmp)
            url = f"http://127.0.0.1:{port}/"
            for _ in range(args.workers * 4):
                fetch(url)
            rows.append((f"bare Flask, same size as {name}", sizes[name], drive(url, args.concurrency, args.seconds)))
            stop(bare)
            bare = None
        print(f"\n{'page':44} {'bytes':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, size, r in rows:
            print(f"{name:44} {size:>8} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7}")
        entry_p99 = rows[0][2]["p99"]
        verdict = "meets" if entry_p99 < 50 else "MISSES"
        print(f"\nentry page p99 {entry_p99:.1f} ms at {args.concurrency} connections: {verdict} the 50 ms target")
    finally:
        for proc in (site, bare):
            if proc is not None:
                stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
