"""The radar and risk matrix SVGs: pure functions, accessible, CSP-safe."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from kb.model.entry import read_entry
from kb.site import charts

DATA = Path(__file__).parents[1] / "data"
SVG = "{http://www.w3.org/2000/svg}"


def entries():
    out = []
    for folder in ("entries", "site"):
        for path in sorted((DATA / folder).glob("*.md")):
            entry, _ = read_entry(path)
            out.append(entry)
    return out


def test_radar_places_every_entry_in_its_ring_and_sector():
    points = charts.radar_points(entries())
    assert len(points) == 8
    assert points == charts.radar_points(list(reversed(entries())))  # deterministic
    cx, cy = charts.RADAR_SIZE / 2 + charts._MARGIN, charts.RADAR_SIZE / 2 + charts._VMARGIN
    for p in points:
        ring = list(charts.tx.HORIZON).index(p.horizon)
        distance = ((p.x - cx) ** 2 + (p.y - cy) ** 2) ** 0.5
        assert charts.RING_EDGES[ring] <= distance <= charts.RING_EDGES[ring + 1], p
    sizes = {p.slug: p.r for p in points}
    assert sizes["amber-locks"] > sizes["prison-drones"] > sizes["draft-robots"]  # 25 > 15 > 4


def test_radar_svg_is_an_accessible_image():
    svg = charts.radar(charts.radar_points(entries()), id_prefix="r")
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "r-title r-desc"
    assert root.find(f"{SVG}title").text == "Horizon radar"
    assert "8 technologies" in root.find(f"{SVG}desc").text
    assert "style=" not in svg and "<script" not in svg


def test_risk_matrix_places_each_risk_in_its_cell():
    drones = next(e for e in entries() if e.slug == "prison-drones")
    svg = charts.risk_matrix(drones.risks, id_prefix="m")
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert "1. Delivery of contraband into prisons: likelihood 5, impact 3, score 15" in root.find(f"{SVG}desc").text
    markers = [c for c in root.iter(f"{SVG}circle")]
    assert len(markers) == 2
    # impact 3 is the third column, likelihood 5 the top row
    assert (float(markers[0].get("cx")), float(markers[0].get("cy"))) == (84 + 2.5 * 64, 16 + 0.5 * 64)
    assert charts.band(15) == "high" and charts.band(8) == "medium" and charts.band(7) == "low"


def test_titles_are_escaped():
    e = entries()[0]
    from dataclasses import replace

    risky = replace(e.risks[0], title='<script>"x"</script>')
    assert "<script>" not in charts.risk_matrix([risky])
