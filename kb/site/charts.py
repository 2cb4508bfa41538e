"""Charts as SVG strings: the horizon radar and the likelihood x impact risk matrix.

Pure functions, no I/O. Each chart is an image (`role="img"` with `<title>` and `<desc>`);
the page that shows it also shows a table of the same numbers. Colours are SVG presentation
attributes, not `style`, so a strict Content-Security-Policy allows them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from kb.model import taxonomy as tx
from kb.model.entry import Entry, Risk
from kb.model.head import Head

# Score bands (likelihood x impact, 1-25), as on the UK National Risk Register's matrix.
BANDS = (("high", 15, "#d4351c", "#f6d7d2"), ("medium", 8, "#f47738", "#fde5d5"), ("low", 0, "#00703c", "#d3e9de"))
INK = "#0b0c0c"
LINE = "#b1b4b6"


def band(score: int) -> str:
    """'high' (15-25), 'medium' (8-14) or 'low' (1-7)."""
    return next(name for name, floor, _, _ in BANDS if score >= floor)


def _colours(score: int) -> tuple[str, str]:
    return next((strong, pale) for _, floor, strong, pale in BANDS if score >= floor)


def _svg_open(width: int, height: int, id_prefix: str, title: str, desc: str, css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="{css_class}" '
        f'role="img" aria-labelledby="{id_prefix}-title {id_prefix}-desc" focusable="false">'
        f'<title id="{id_prefix}-title">{escape(title)}</title><desc id="{id_prefix}-desc">{escape(desc)}</desc>'
    )


def _text(
    x: float, y: float, text: str, *, size: int = 14, anchor: str = "middle", weight: str = "normal", fill: str = INK
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
        f'fill="{fill}" dominant-baseline="middle">{escape(text)}</text>'
    )


# -- the risk matrix ---------------------------------------------------------------------------


def risk_matrix(risks: Sequence[Risk], *, id_prefix: str = "matrix") -> str:
    """A 5x5 likelihood (up) x impact (across) grid with each risk as a numbered marker.

    Markers are numbered in the order given, so a list or table beside the chart can use the
    same numbers.
    """
    cell, left, top = 64, 84, 16
    width, height = left + 5 * cell + 16, top + 5 * cell + 70
    placed = "; ".join(
        f"{i}. {r.title}: likelihood {r.likelihood}, impact {r.impact}, score {r.score}"
        for i, r in enumerate(risks, start=1)
    )
    parts = [
        _svg_open(
            width,
            height,
            id_prefix,
            "Risk matrix: likelihood against impact",
            f"{len(risks)} risk{'s' * (len(risks) != 1)} placed on a 5 by 5 grid. {placed}.",
            "app-chart app-matrix",
        )
    ]
    for likelihood in range(1, 6):
        for impact in range(1, 6):
            x, y = left + (impact - 1) * cell, top + (5 - likelihood) * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_colours(likelihood * impact)[1]}" '
                f'stroke="#ffffff" stroke-width="2"/>'
            )
    for n in range(1, 6):
        parts.append(_text(left + (n - 0.5) * cell, top + 5 * cell + 16, str(n)))
        parts.append(_text(left - 14, top + (5 - n + 0.5) * cell, str(n)))
    parts.append(_text(left + 2.5 * cell, top + 5 * cell + 44, "Impact", weight="bold"))
    mid = top + 2.5 * cell
    parts.append(
        f'<text x="22" y="{mid:.1f}" font-size="14" font-weight="bold" text-anchor="middle" fill="{INK}" '
        f'transform="rotate(-90 22 {mid:.1f})">Likelihood</text>'
    )
    crowd: dict[tuple[int, int], list[int]] = {}
    for number, risk in enumerate(risks, start=1):
        crowd.setdefault((risk.likelihood, risk.impact), []).append(number)
    for (likelihood, impact), numbers in crowd.items():
        cx, cy = left + (impact - 0.5) * cell, top + (5 - likelihood + 0.5) * cell
        for k, number in enumerate(numbers):
            dx, dy = _spread(k, len(numbers), 17)
            parts.append(f'<circle cx="{cx + dx:.1f}" cy="{cy + dy:.1f}" r="13" fill="{INK}"/>')
            parts.append(_text(cx + dx, cy + dy + 1, str(number), size=14, weight="bold", fill="#ffffff"))
    parts.append("</svg>")
    return "".join(parts)


def _spread(k: int, n: int, distance: float) -> tuple[float, float]:
    """Offsets that keep n markers in one cell apart (one marker sits in the middle)."""
    if n == 1:
        return 0.0, 0.0
    angle = 2 * math.pi * k / n - math.pi / 2
    return distance * math.cos(angle), distance * math.sin(angle)


# -- the horizon radar -------------------------------------------------------------------------


@dataclass(frozen=True)
class RadarPoint:
    number: int
    slug: str
    title: str
    category: str
    horizon: str
    score: int
    x: float
    y: float
    r: float


RADAR_SIZE = 640
RADAR_LABELS = {
    "devices": "Devices",
    "manufacturing": "Manufacturing",
    "money": "Money",
    "information": "Information",
    "mobility": "Mobility",
}
_CENTRE = RADAR_SIZE / 2
RING_EDGES = (0, 120, 195, 260, 315)  # ring boundaries, centre out: now gets the most room
_MARGIN = 175  # room left and right for the category labels
_VMARGIN = 45  # room above and below


def radar_points(entries: Iterable[Entry | Head]) -> list[RadarPoint]:
    """Place each entry: its category picks the sector of the circle, its horizon the ring
    (now at the centre, 5-10 years at the edge), its score the dot's size. Deterministic.
    A crowded cell spreads its dots over as many arcs as it takes to keep them apart."""
    ordered = sorted(
        entries,
        key=lambda e: (
            list(tx.CATEGORY).index(e.category),
            list(tx.HORIZON).index(e.horizon),
            -e.score,
            e.title.lower(),
        ),
    )
    cells: dict[tuple[str, str], list[Entry | Head]] = {}
    for e in ordered:
        cells.setdefault((e.category, e.horizon), []).append(e)
    wedge = 2 * math.pi / len(tx.CATEGORY)
    points = []
    for number, e in enumerate(ordered, start=1):
        group = cells[(e.category, e.horizon)]
        ring = list(tx.HORIZON).index(e.horizon)
        start = list(tx.CATEGORY).index(e.category) * wedge - math.pi / 2
        fraction, radius = _cell_slots(ring, len(group))[group.index(e)]
        angle = start + wedge * fraction
        points.append(
            RadarPoint(
                number=number,
                slug=e.slug,
                title=e.title,
                category=e.category,
                horizon=e.horizon,
                score=e.score,
                x=_CENTRE + _MARGIN + radius * math.cos(angle),
                y=_CENTRE + _VMARGIN + radius * math.sin(angle),
                r=5 + 9 * e.score / 25,
            )
        )
    return points


_DOT_SPACING = 36  # the least distance between dots in one cell, along an arc


def _cell_slots(ring: int, n: int) -> list[tuple[float, float]]:
    """n places (fraction of the wedge's angle, radius) in one ring of one wedge."""
    inner, outer = RING_EDGES[ring], RING_EDGES[ring + 1]
    if n < (4 if ring else 3):  # a few dots: one arc across the middle of the cell
        depth = 0.5 if ring else 0.6
        return [((k + 1) / (n + 1), inner + (outer - inner) * depth) for k in range(n)]
    inner = max(inner, 24)  # the very centre has no room along an arc
    wedge = 2 * math.pi / len(tx.CATEGORY)
    for arcs in range(2, 9):
        radii = [inner + (outer - inner) * (i + 0.5) / arcs for i in range(arcs)]
        room = [max(1, int(wedge * r / _DOT_SPACING)) for r in radii]
        if sum(room) >= n or (outer - inner) / (arcs + 1) < 16:
            break
    # share the dots out in proportion to each arc's room, outer arcs first for the remainder
    counts = [n * c // sum(room) for c in room]
    for i in sorted(range(arcs), key=lambda i: -room[i]):
        if sum(counts) == n:
            break
        counts[i] += 1
    while sum(counts) < n:
        counts[-1] += 1
    return [((k + 1) / (m + 1), r) for r, m in zip(radii, counts, strict=True) for k in range(m)]


def radar(points: Sequence[RadarPoint], *, id_prefix: str = "radar") -> str:
    """The radar as SVG: rings by horizon, sectors by category, numbered dots sized by risk score."""
    width, height = RADAR_SIZE + 2 * _MARGIN, RADAR_SIZE + 2 * _VMARGIN
    cx, cy = _CENTRE + _MARGIN, _CENTRE + _VMARGIN
    desc = (
        f"{len(points)} technologies. Rings, from the centre out: "
        + ", ".join(tx.HORIZON.values())
        + ". Sectors: "
        + ", ".join(tx.CATEGORY.values())
        + ". Larger dots carry a higher risk score. The table that follows lists the same."
    )
    parts = [_svg_open(width, height, id_prefix, "Horizon radar", desc, "app-chart app-radar")]
    for ring in range(len(tx.HORIZON), 0, -1):
        fill = "#f3f2f1" if ring % 2 else "#ffffff"
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="{RING_EDGES[ring]}" fill="{fill}" stroke="{LINE}" stroke-width="1"/>'
        )
    wedge = 2 * math.pi / len(tx.CATEGORY)
    outer = RING_EDGES[-1]
    for i in range(len(tx.CATEGORY)):
        angle = i * wedge - math.pi / 2
        parts.append(
            f'<line x1="{cx}" y1="{cy}" x2="{cx + outer * math.cos(angle):.1f}" '
            f'y2="{cy + outer * math.sin(angle):.1f}" stroke="{LINE}" stroke-width="1"/>'
        )
    labels = _fixed_labels(cx, cy)
    for lx, ly, text, size, anchor in labels:
        bold = size > 14  # the categories; the rings' names are grey
        parts.append(
            _text(
                lx,
                ly,
                text,
                size=size,
                anchor=anchor,
                weight="bold" if bold else "normal",
                fill=INK if bold else "#484949",
            )
        )
    for p in points:
        strong = _colours(p.score)[0]
        parts.append(
            f'<circle cx="{p.x:.1f}" cy="{p.y:.1f}" r="{p.r:.1f}" fill="{strong}" stroke="#ffffff" stroke-width="1.5"/>'
        )
    fixed = [_box(lx, ly, text, size, anchor) for lx, ly, text, size, anchor in labels]
    for p, (x, y, anchor, leader) in zip(points, place_labels(points, fixed, width, height), strict=True):
        if leader:
            parts.append(
                f'<line x1="{p.x:.1f}" y1="{p.y:.1f}" x2="{leader[0]:.1f}" y2="{leader[1]:.1f}" '
                f'stroke="{INK}" stroke-width="1"/>'
            )
        parts.append(_text(x, y, str(p.number), size=_LABEL_SIZE, anchor=anchor, weight="bold"))
    parts.append("</svg>")
    return "".join(parts)


# -- the radar's number labels: placed so that none overlaps another, a dot or a fixed label ------

_LABEL_SIZE = 16
Box = tuple[float, float, float, float]  # left, top, right, bottom


def _box(x: float, y: float, text: str, size: float, anchor: str) -> Box:
    """A generous estimate of a text's box (bold system fonts; dominant-baseline middle)."""
    width = 0.66 * size * len(text) + 2
    left = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
    return left, y - 0.68 * size, left + width, y + 0.62 * size


def _fixed_labels(cx: float, cy: float) -> list[tuple[float, float, str, int, str]]:
    """The category and ring labels, as radar() draws them."""
    wedge, outer, out = 2 * math.pi / len(tx.CATEGORY), RING_EDGES[-1], []
    for i, category in enumerate(tx.CATEGORY):
        middle = i * wedge - math.pi / 2 + wedge / 2
        anchor = "start" if math.cos(middle) > 0.3 else "end" if math.cos(middle) < -0.3 else "middle"
        lx, ly = cx + (outer + 22) * math.cos(middle), cy + (outer + 22) * math.sin(middle)
        out.append((lx, ly, RADAR_LABELS[category], 18, anchor))
    for ring, label in enumerate(tx.HORIZON.values()):
        out.append((cx + 4, cy - RING_EDGES[ring + 1] + 12, label, 14, "start"))
    return out


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _candidates(p: RadarPoint) -> Iterable[tuple[float, float, str, tuple[float, float] | None]]:
    """Where p's number may go, nearest first: beside the dot, then further out on a leader line."""
    for step in range(8):
        gap = p.r + 3 + 10 * step
        for angle_deg in (0, 180, -90, 90, -45, 45, -135, 135, -22.5, 22.5, -157.5, 157.5, -67.5, 67.5, -112.5, 112.5):
            a = math.radians(angle_deg)
            dx, dy = math.cos(a), math.sin(a)
            anchor = "start" if dx > 0.3 else "end" if dx < -0.3 else "middle"
            x = p.x + gap * dx
            y = p.y + gap * dy + (0.65 * _LABEL_SIZE * (1 if dy > 0 else -1) if anchor == "middle" else 0)
            leader = (p.x + (gap - 2) * dx, p.y + (gap - 2) * dy) if step else None
            yield x, y, anchor, leader


def place_labels(
    points: Sequence[RadarPoint], fixed: Sequence[Box], width: float, height: float
) -> list[tuple[float, float, str, tuple[float, float] | None]]:
    """Each point's label position (x, y, text-anchor, leader line end or None), greedily: the
    nearest place that overlaps no label placed so far, no fixed label and no dot."""
    dots = [(p.x - p.r - 1, p.y - p.r - 1, p.x + p.r + 1, p.y + p.r + 1) for p in points]
    taken: list[Box] = list(fixed)
    placed = []
    for p in points:
        first = None
        for x, y, anchor, leader in _candidates(p):
            box = _box(x, y, str(p.number), _LABEL_SIZE, anchor)
            first = first or (x, y, anchor, leader, box)
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
            if inside and not any(_overlaps(box, other) for other in taken + dots):
                break
        else:  # nowhere free: beside the dot, as before
            x, y, anchor, leader, box = first  # type: ignore[misc]
        taken.append(box)
        placed.append((x, y, anchor, leader))
    return placed


# -- a feed's items per day --------------------------------------------------------------------


def trend(counts: Sequence[int], first_day: str, last_day: str, *, id_prefix: str = "trend", name: str = "") -> str:
    """A small bar chart of items per day (oldest first), for the staff feed-health table.

    The description says the same numbers in words, so the chart is never the only way to read them.
    """
    width, height, gap = 2 + 6 * max(1, len(counts)), 32, 1
    peak = max(counts, default=0)
    total = sum(counts)
    desc = (
        f"{total} item{'s' * (total != 1)} over {len(counts)} days, {first_day} to {last_day}; "
        f"busiest day {peak}. Per day: {', '.join(str(c) for c in counts)}."
    )
    parts = [
        _svg_open(
            width, height, id_prefix, f"Items per day{' for ' + name if name else ''}", desc, "app-chart app-trend"
        )
    ]
    parts.append(
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="{LINE}" stroke-width="1"/>'
    )
    for i, count in enumerate(counts):
        if not count:
            continue
        bar = max(2.0, (height - 4) * count / peak)
        parts.append(
            f'<rect x="{1 + 6 * i + gap}" y="{height - 1 - bar:.1f}" width="{6 - 2 * gap}" height="{bar:.1f}" '
            f'fill="#1d70b8"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
