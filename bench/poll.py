"""Benchmark `kb poll`: 300 local feeds x 50 items, polled twice.

Starts its own HTTP server on 127.0.0.1 in a subprocess (with ETag support, so the second
poll is all 304s), builds a temporary knowledge base with the shipped entries and a feed list
pointing at that server, and runs the poller twice. Prints the time of each poll and the
items per second of the first; targets (2-core machine): first poll under 30 s, second under
5 s.

    .venv/bin/python bench/poll.py                # 300 feeds x 50 items
    .venv/bin/python bench/poll.py --feeds 50 --items 20
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kb.sync import update_index

REPO = Path(__file__).resolve().parent.parent
WORDS = [
    "police",
    "fraud",
    "theft",
    "drone",
    "battery",
    "network",
    "device",
    "criminal",
    "phone",
    "payment",
    "account",
    "bank",
    "market",
    "data",
    "report",
    "court",
    "arrest",
    "camera",
    "vehicle",
    "charger",
    "lock",
    "door",
    "wallet",
    "exchange",
    "scam",
    "victim",
    "software",
    "update",
    "retail",
    "store",
    "council",
    "transport",
    "station",
    "airport",
    "prison",
    "cell",
    "supply",
    "gang",
    "money",
    "mule",
    "identity",
    "card",
    "token",
    "printer",
    "plastic",
    "design",
    "factory",
    "cloud",
    "server",
    "platform",
    "message",
    "video",
    "image",
    "voice",
    "model",
    "agent",
]
WATCH = [
    "drone",
    "quadcopter",
    "bitcoin",
    "3d printed firearm",
    "relay attack",
    "deepfake",
    "e-bike",
    "smart lock",
    "video doorbell",
    "ransomware",
    "contactless",
    "botnet",
]


# -- the server (a subprocess) ---------------------------------------------------------------


def make_feed(n: int, items: int, now: float) -> bytes:
    rnd = random.Random(n)
    out = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Bench feed {n}</title>'
        f"<link>https://bench.example/{n}/</link><description>Feed {n}</description>"
    ]
    for i in range(items):
        words = rnd.choices(WORDS, k=40)
        if rnd.random() < 0.1:
            words.insert(rnd.randrange(len(words)), rnd.choice(WATCH))
        title = " ".join(rnd.choices(WORDS, k=8)).capitalize()
        date = email.utils.formatdate(now - (i * 3600 + n * 60), usegmt=True)
        out.append(
            f"<item><title>{title}</title><link>https://bench.example/{n}/{i}</link>"
            f'<guid isPermaLink="false">bench-{n}-{i}</guid><pubDate>{date}</pubDate>'
            f"<description>&lt;p&gt;{' '.join(words)}.&lt;/p&gt;</description></item>"
        )
    out.append("</channel></rss>")
    return "".join(out).encode()


def serve(feeds: int, items: int, port_file: Path) -> None:
    now = time.time()
    bodies = {f"/feed/{n}.xml": make_feed(n, items, now) for n in range(feeds)}
    tags = {path: '"' + hashlib.sha1(body).hexdigest()[:20] + '"' for path, body in bodies.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = bodies.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == tags[self.path]:
                self.send_response(304)
                self.send_header("ETag", tags[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", tags[self.path])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port_file.write_text(str(httpd.server_address[1]))
    try:
        httpd.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


# -- the benchmark ---------------------------------------------------------------------------


def run(feeds: int, items: int) -> int:
    from kb.watch import open_poller
    from kb.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="kb-bench-poll-") as tmp:
        root = Path(tmp) / "kb"
        shutil.copytree(REPO / "entries", root / "entries")
        (root / "feeds").mkdir()
        (root / "config.toml").write_text("[feeds]\nallow_private = true   # the benchmark's own server on 127.0.0.1\n")
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port_file), "--feeds", str(feeds), "--items", str(items)]
        )
        try:
            deadline = time.monotonic() + 60
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the feed server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            port = int(port_file.read_text())
            lines = ["feeds:"]
            for n in range(feeds):
                lines += [
                    f"  - url: http://127.0.0.1:{port}/feed/{n}.xml",
                    f"    title: Bench feed {n}",
                    "    tags: [bench]",
                    "    interval: 60",
                    "    enabled: true",
                ]
            (root / "feeds" / "feeds.yaml").write_text("\n".join(lines) + "\n")
            ws = Workspace.open(root)
            update_index(ws)
            print(
                f"{feeds} feeds x {items} items on 127.0.0.1:{port}; {len(list((root / 'entries').glob('*.md')))} entries"
            )
            try:
                with open_poller(ws) as poller:
                    for label in ("first poll", "second poll"):
                        report = poller.poll()
                        new = len(report.new_ids)
                        s = report.suggestions
                        print(
                            f"{label}: {report.seconds:6.2f} s  {report.count('new')} feeds with new items, "
                            f"{report.count('not-modified')} not modified (304), {report.count('error')} errors, "
                            f"{report.parsed} parsed; {new} new items ({new / report.seconds:,.0f} items/s); "
                            f"{report.indexed} indexed; suggestions: {len(s.updates)} update, {len(s.topics)} new topic"
                        )
                        print("    " + ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items()))
                        for r in report.results:
                            if r.outcome == "error":
                                print(f"  {r.line()}")
            finally:
                ws.close()
        finally:
            server.terminate()
            server.wait(10)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.feeds, args.items, args.serve)
        return 0
    return run(args.feeds, args.items)


if __name__ == "__main__":
    sys.exit(main())
