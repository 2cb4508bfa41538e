"""Concurrency soak: readers, polls, `kb index` and two staff editors at once, against gunicorn
with several workers plus `kb poll` and `kb index` in their own processes, for a bounded time.

Prints the counts that must all be 0: server errors (5xx), lock errors ("database is locked",
LockError, Busy answers), lost edits (two saves of the same version both told "Saved") and
stale edits (a saved title that search did not find straight after the save, or that the file,
the database and the index disagree on at the end).

    .venv/bin/python bench/soak.py                    # 20 s, 4 gunicorn workers
    .venv/bin/python bench/soak.py --seconds 60 --workers 4

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import html
import http.client
import http.server
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "soak test password 1"
ENTRY = "consumer-drones"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Feeds(http.server.ThreadingHTTPServer):
    """Feeds whose items change on every request, so each poll brings new items."""


class FeedHandler(http.server.BaseHTTPRequestHandler):
    count = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        FeedHandler.count += 1
        n = FeedHandler.count
        items = "".join(
            f"<item><title>Drone drop {n}-{i} at a prison</title><link>http://127.0.0.1/{n}/{i}</link>"
            f"<description>Contraband delivered by drone, case {n}-{i}.</description></item>"
            for i in range(5)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Soak</title>{items}</channel></rss>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Browser:
    """One signed-in staff member: cookies and CSRF tokens, over http.client."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: list[tuple[str, str]] | None = None) -> tuple[int, str, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        conn.close()
        return response.status, text, dict(response.getheaders())

    def sign_in(self, email: str) -> None:
        _, page, _ = self.request("GET", "/sign-in")
        token = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _, _ = self.request(
            "POST", "/sign-in", [("csrf_token", token), ("email", email), ("password", PASSWORD)]
        )
        assert status == 302, f"sign-in failed for {email}: {status}"


def form_fields(page: str) -> list[tuple[str, str]]:
    form = page[page.index('id="entry-form"') :]
    fields = []
    for tag in re.finditer(r"<input ([^>]*)>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(1)))
        if attrs.get("type") == "checkbox" and " checked" not in tag.group(1):
            continue
        if "name" in attrs:
            fields.append((attrs["name"], html.unescape(attrs.get("value", ""))))
    for select in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(2))
        fields.append((select.group(1), html.unescape(chosen.group(1)) if chosen else ""))
    for area in re.finditer(r'<textarea [^>]*name="([^"]+)"[^>]*>\n?(.*?)</textarea>', form, re.DOTALL):
        fields.append((area.group(1), html.unescape(area.group(2))))
    return fields


class Soak:
    """The knowledge base, its servers, and what the load saw."""

    def __init__(self, root: Path, feeds_port: int):
        self.root = root
        self.kb = [str(BIN / "kb"), "--root", str(root)]
        self.counts: Counter[str] = Counter()
        self.saves: list[tuple[str, str, str]] = []  # (editor, base sha, title) of every save told "Saved"
        self.stop = threading.Event()
        self.port = 0
        shutil.copytree(REPO / "entries", root / "entries")
        (root / "feeds").mkdir()
        (root / "feeds" / "feeds.yaml").write_text(
            "feeds:\n"
            + "".join(
                f"  - url: http://127.0.0.1:{feeds_port}/f{i}.xml\n    title: Soak {i}\n"
                f"    tags: [soak]\n    interval: 1\n    enabled: true\n"
                for i in range(3)
            )
        )
        (root / "config.toml").write_text("[feeds]\nallow_private = true\n")
        subprocess.run([*self.kb, "index"], check=True, capture_output=True)
        for email in ("ann@soak.test", "bob@soak.test"):
            subprocess.run(
                [*self.kb, "users", "add", email, "--role", "staff", "--password-stdin"],
                input=PASSWORD + "\n",
                text=True,
                check=True,
                capture_output=True,
            )

    def serve(self, workers: int) -> subprocess.Popen:
        self.port = free_port()
        log = (self.root / "gunicorn.log").open("w")
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "kb.web.wsgi:app"],
            env={"KB_ROOT": str(self.root), "PATH": str(BIN)},
            stdout=log,
            stderr=log,
        )
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        return proc

    def reader(self) -> None:
        browser = Browser(self.port)
        paths = ["/", "/entries/", f"/entries/{ENTRY}", "/search?q=drone", "/feeds/all.atom", "/api/entries"]
        i = 0
        while not self.stop.is_set():
            status, _, _ = browser.request("GET", paths[i % len(paths)])
            self.counts["reads"] += 1
            self.counts["5xx"] += status >= 500
            i += 1

    def editor(self, email: str) -> None:
        browser = Browser(self.port)
        browser.sign_in(email)
        n = 0
        while not self.stop.is_set():
            status, page, _ = browser.request("GET", f"/staff/entries/{ENTRY}/edit")
            if status != 200:
                self.counts["5xx"] += status >= 500
                continue
            n += 1
            self.save(browser, page, f"Consumer drones {email[:3]}{n}", email)

    def save(self, browser: Browser, page: str, title: str, email: str) -> None:
        fields = [(k, v) for k, v in form_fields(page) if k != "title"]
        sha = dict(fields)["sha"]
        status, _, headers = browser.request(
            "POST", f"/staff/entries/{ENTRY}/edit", [*fields, ("title", title), ("action", "save")]
        )
        self.counts["saves tried"] += 1
        self.counts["5xx"] += status >= 500 and status != 503
        self.counts["lock errors"] += status == 503
        if status == 409:
            self.counts["conflicts (shown to the user)"] += 1
        elif status == 302 and f"/staff/entries/{ENTRY}" in headers.get("Location", ""):
            _, shown, _ = browser.request("GET", headers["Location"])
            if "Saved" in shown:
                self.saves.append((email, sha, title))
                _, found, _ = browser.request("GET", "/search?" + urlencode({"q": f'"{title}"'}))
                self.counts["stale edits"] += title not in found

    def command(self, args: list[str], key: str) -> None:
        while not self.stop.is_set():
            done = subprocess.run([*self.kb, *args], capture_output=True, text=True)
            self.counts[key] += 1
            output = done.stdout + done.stderr
            self.counts["lock errors"] += bool(re.search(r"database is locked|LockError|busy", output, re.I))
            self.counts["5xx"] += "Traceback" in output

    def check_end(self) -> None:
        """Lost edits: two saves of one version both told "Saved". Stale: the last saved title
        is not what the file, `kb search` (after `kb index`) and the server log agree on."""
        bases = Counter(sha for _, sha, _ in self.saves)
        self.counts["lost edits"] = sum(n - 1 for n in bases.values() if n > 1)
        final = self.saves[-1][2] if self.saves else None
        text = (self.root / "entries" / f"{ENTRY}.md").read_text()
        subprocess.run([*self.kb, "index"], capture_output=True)
        found = subprocess.run([*self.kb, "search", f'"{final}"'], capture_output=True, text=True).stdout
        if final and (f"title: {final}" not in text or ENTRY not in found):
            self.counts["stale edits"] += 1
        server_log = (self.root / "gunicorn.log").read_text()
        self.counts["lock errors"] += len(re.findall(r"database is locked|LockError", server_log))
        self.counts["5xx"] += server_log.count("Traceback")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="how long to run the load (default 20)")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="kb-soak-"))
    feeds = Feeds(("127.0.0.1", 0), FeedHandler)
    threading.Thread(target=feeds.serve_forever, daemon=True).start()
    server = None
    try:
        soak = Soak(root, feeds.server_address[1])
        server = soak.serve(args.workers)
        threads = [threading.Thread(target=soak.reader) for _ in range(4)]
        threads += [threading.Thread(target=soak.editor, args=(e,)) for e in ("ann@soak.test", "bob@soak.test")]
        threads += [
            threading.Thread(target=soak.command, args=(["poll", "--force"], "polls")),
            threading.Thread(target=soak.command, args=(["index"], "index runs")),
        ]
        for t in threads:
            t.start()
        soak.stop.wait(args.seconds)
        soak.stop.set()
        for t in threads:
            t.join(timeout=120)
        soak.check_end()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        feeds.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    counts = soak.counts
    print(f"soak: {args.seconds:g} s, gunicorn -w {args.workers}, 4 readers, 2 editors, kb poll and kb index looping")
    for key in ("reads", "saves tried", "conflicts (shown to the user)", "polls", "index runs"):
        print(f"  {key:32} {counts[key]}")
    bad = {k: counts[k] for k in ("5xx", "lock errors", "lost edits", "stale edits")}
    for key, value in bad.items():
        print(f"  {key:32} {value}{'' if value == 0 else '   <- must be 0'}")
    return 0 if not any(bad.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
