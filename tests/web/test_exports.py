"""Issue 15: CSV exports of risks and measures, for a note (`/api/entries/SLUG.csv`), a sector
(`/sectors/SECTOR.csv`) and the whole register a reader may read (`/api/register.csv`).

One row per measure; UTF-8 with a byte-order mark for Excel; a file name in Content-Disposition;
cells that a spreadsheet would run as a formula made safe; and the one sharing rule: readers are
the anonymous public, `partner_a` (org-a: may read the TLP:AMBER `amber-locks`, in sector prisons)
and `partner_b` (org-b: may not). Both partners may read the TLP:GREEN `secret-keys`.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_helpers import AuthActions
from flask import Flask
from site_fixtures import DATA, make_site

from kb.site import exports
from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace

HEADER = ["note", "risk", "likelihood", "impact", "score", "trend", "actor", "measure", "mechanism", "status", "tlp"]
FORMULAS = "formula-cafe"  # a public note whose title, risk and measures start like formulas
AMBER_WORDS = (b"Amberlock", b"amberlock", b"quokka", b"Quokka", b"TLP:AMBER")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    site = make_site(tmp_path / "site")
    shutil.copy(DATA / "site" / "exports" / f"{FORMULAS}.md", site / "entries")
    ws = Workspace.open(site)
    try:
        update_index(ws, parallel=False)
    finally:
        ws.close()
    return site


@pytest.fixture
def app(root: Path) -> Iterator[Flask]:
    application = create_app(root, {"TESTING": True})
    yield application
    application.extensions["kb"].close()


@pytest.fixture
def readers(app: Flask) -> dict:
    auth = AuthActions(app)
    clients = {"public": app.test_client()}
    for who in ("partner_a", "partner_b"):
        clients[who] = app.test_client()
        auth.sign_in(clients[who], who)
    return clients


def table(response) -> list[dict[str, str]]:
    """The CSV's rows as dicts, after checking it is a UTF-8 CSV download with a BOM and the header."""
    assert response.status_code == 200, response.request.path
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="horizon-kb-')
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8")[1:]
    assert text.splitlines()[0] == ",".join(HEADER) and "\r\n" in text
    reader = csv.reader(io.StringIO(text, newline=""))
    assert next(reader) == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in reader]


def test_a_note_csv_has_one_row_per_measure_with_its_tlp_label(readers):
    response = readers["public"].get("/api/entries/prison-drones.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="horizon-kb-prison-drones.csv"'
    rows = table(response)
    assert rows[0] == {
        "note": "Prison drones",
        "risk": "Delivery of contraband into prisons",
        "likelihood": "5",
        "impact": "3",
        "score": "15",
        "trend": "Rising",
        "actor": "Manufacturers",
        "measure": "Geofence prisons in firmware, updated over the air.",
        "mechanism": "Increase the effort",
        "status": "In progress",
        "tlp": "TLP:CLEAR",
    }
    assert rows[1]["actor"] == "Operators" and rows[1]["status"] == "Adopted"
    # a risk with no measures still has its row, the measure's cells empty
    assert rows[2]["risk"] == "Reconnaissance of premises before burglary" and rows[2]["score"] == "4"
    assert [rows[2][c] for c in ("actor", "measure", "mechanism", "status")] == ["", "", "", ""]
    assert len(rows) == 3


def test_cells_that_start_like_a_formula_are_made_safe_with_a_quote(readers):
    rows = table(readers["public"].get(f"/api/entries/{FORMULAS}.csv"))
    assert rows[0]["note"] == '\'=HYPERLINK("http://evil.example","Café locks")'  # UTF-8 kept, é and all
    assert rows[0]["risk"] == "'+cmd|' /C calc'!A0"
    measures = [r["measure"] for r in rows]
    assert measures == [
        "'-2+3 tools open the lock; fit a stronger cylinder.",
        "'@SUM(1,2) is not a measure; nor is a café's tab.",
        "Plain words with a = sign, + and - inside, and @ too.",  # only a cell's first character counts
    ]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_safe_leaves_numbers_and_plain_text_alone():
    assert exports.safe(5) == 5
    assert exports.safe("Geofence") == "Geofence"
    assert exports.safe("") == ""
    assert [exports.safe(s) for s in ("=1", "+1", "-1", "@A1", "\t=1", "\r=1")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@A1",
        "'\t=1",
        "'\r=1",
    ]
    assert exports.filename("sector", "Home security/../x") == "horizon-kb-sector-home-security-x.csv"


def test_the_register_holds_what_each_reader_may_read_and_nothing_else(readers):
    notes = {who: {r["note"] for r in table(readers[who].get("/api/register.csv"))} for who in readers}
    public = {
        "Prison drones",
        "3D-printed firearms",
        "Doorbell cameras",
        '\'=HYPERLINK("http://evil.example","Café locks")',
    }
    assert notes["public"] == public
    assert notes["partner_b"] == public | {"Secret key cloning"}
    assert notes["partner_a"] == public | {"Secret key cloning", "Amberlock smart locks"}
    amber = [r for r in table(readers["partner_a"].get("/api/register.csv")) if r["note"] == "Amberlock smart locks"]
    assert amber and all(r["tlp"] == "TLP:AMBER" for r in amber)
    for who in ("public", "partner_b"):
        body = readers[who].get("/api/register.csv").data
        assert not [w for w in AMBER_WORDS if w in body], who
    assert b"Secret key" not in readers["public"].get("/api/register.csv").data
    response = readers["public"].get("/api/register.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="horizon-kb-register.csv"'


def test_an_amber_note_never_appears_in_a_csv_for_someone_who_may_not_read_it(readers):
    missing = readers["public"].get("/api/entries/no-such-note.csv")
    assert missing.status_code == 404
    assert table(readers["partner_a"].get("/api/entries/amber-locks.csv"))[0]["tlp"] == "TLP:AMBER"
    for who in ("public", "partner_b"):
        client = readers[who]
        response = client.get("/api/entries/amber-locks.csv")
        assert response.status_code == 404 and response.data == client.get("/api/entries/no-such-note.csv").data
        assert client.get("/sectors/amberlock-sector.csv").status_code == 404, who
        prisons = client.get("/sectors/prisons.csv")
        assert not [w for w in AMBER_WORDS if w in prisons.data], who
        assert {r["note"] for r in table(prisons)} == {"Prison drones", "Doorbell cameras"}, who
    prisons = table(readers["partner_a"].get("/sectors/prisons.csv"))
    assert prisons[0]["note"] == "Amberlock smart locks"  # highest risk first, as on the sector page
    assert {r["note"] for r in prisons} == {"Amberlock smart locks", "Prison drones", "Doorbell cameras"}
    assert table(readers["partner_a"].get("/sectors/amberlock-sector.csv"))[0]["tlp"] == "TLP:AMBER"


def test_a_cached_csv_is_not_served_to_another_reader(readers):
    """The same address, asked by partner A, then B, then the public: each gets their own rows."""
    first = readers["partner_a"].get("/sectors/prisons.csv")
    assert b"Amberlock" in first.data and "private" in first.headers["Cache-Control"]
    for who in ("partner_b", "public"):
        again = readers[who].get("/sectors/prisons.csv", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and b"Amberlock" not in again.data, who
    assert (
        readers["partner_a"].get("/sectors/prisons.csv", headers={"If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )


def test_sector_csv_is_named_for_the_sector_and_unknown_sectors_are_404(readers):
    response = readers["public"].get("/sectors/prisons.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="horizon-kb-sector-prisons.csv"'
    assert readers["public"].get("/sectors/no-such-sector.csv").status_code == 404
    assert readers["public"].get("/sectors/prisons").content_type.startswith("text/html")  # the page is still the page


def test_downloads_are_linked_from_the_note_and_sector_pages(readers):
    client = readers["public"]
    assert 'href="/api/entries/prison-drones.csv"' in client.get("/entries/prison-drones").get_data(as_text=True)
    assert 'href="/sectors/prisons.csv"' in client.get("/sectors/prisons").get_data(as_text=True)
    assert ".csv" not in client.get("/tags/drones").get_data(as_text=True)  # tags have no download
