"""Human-readable audit reports: HTML (jinja2) with an inline SVG timeline of the records
(transactions), the anchors and the discrepancies found."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from jinja2 import Environment, PackageLoader, select_autoescape

from .audit import AuditReport, TimelineEvent

WIDTH, HEIGHT, MARGIN = 900, 190, 70
ROWS = {"record": 70, "anchor": 130}
COLORS = {"record": "#3b6fb6", "anchor": "#2e8b57", "flagged": "#c62828"}

_env = Environment(
    loader=PackageLoader("ledger", "templates"), autoescape=select_autoescape(["html", "j2"])
)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _x(ms: int, lo: int, hi: int) -> float:
    span = max(hi - lo, 1)
    return MARGIN + (WIDTH - 2 * MARGIN) * (ms - lo) / span


def _mark(event: TimelineEvent, x: float, flagged: bool) -> str:
    y = ROWS[event.category]
    color = COLORS["flagged" if flagged else event.category]
    tip = escape(
        f"{_iso(event.time_ms)} — {event.label}"
        + (f" (#{event.index})" if event.index is not None else "")
    )
    if event.category == "anchor":
        points = f"{x:.1f},{y - 8} {x - 7:.1f},{y + 6} {x + 7:.1f},{y + 6}"
        return f'<polygon points="{points}" fill="{color}"><title>{tip}</title></polygon>'
    radius = 6 if flagged else 3.5
    return (
        f'<circle cx="{x:.1f}" cy="{y}" r="{radius}" fill="{color}" fill-opacity="0.75">'
        f"<title>{tip}</title></circle>"
    )


def _legend() -> str:
    items = [("record", COLORS["record"]), ("anchor", COLORS["anchor"])]
    items.append(("record named in a discrepancy", COLORS["flagged"]))
    parts, x = [], MARGIN
    for label, color in items:
        parts.append(f'<circle cx="{x}" cy="24" r="5" fill="{color}"/>')
        parts.append(f'<text x="{x + 10}" y="28" font-size="11">{escape(label)}</text>')
        x += 30 + 7 * len(label)
    return "".join(parts)


def timeline_svg(report: AuditReport) -> str:
    """An inline SVG: records on one lane, anchors on another, flagged records in red."""
    events = sorted(report.timeline, key=lambda e: e.time_ms)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">']
    parts.append(_legend())
    parts.append('<text x="8" y="74" font-size="11">records</text>')
    parts.append('<text x="8" y="134" font-size="11">anchors</text>')
    for y in ROWS.values():
        parts.append(
            f'<line x1="{MARGIN}" x2="{WIDTH - MARGIN}" y1="{y}" y2="{y}" stroke="#d0d7de"/>'
        )
    if events:
        lo, hi = events[0].time_ms, events[-1].time_ms
        flagged = {d.index for d in report.discrepancies if d.index is not None}
        for event in events:
            hit = event.category == "record" and event.index in flagged
            parts.append(_mark(event, _x(event.time_ms, lo, hi), hit))
        parts.append(
            f'<text x="{MARGIN}" y="{HEIGHT - 12}" font-size="11">{escape(_iso(lo))}</text>'
        )
        parts.append(
            f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 12}" font-size="11" text-anchor="end">'
            f"{escape(_iso(hi))}</text>"
        )
    else:
        parts.append(f'<text x="{WIDTH / 2}" y="100" text-anchor="middle">no events</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(report: AuditReport) -> str:
    """The audit report as a standalone HTML page."""
    template = _env.get_template("report.html.j2")
    return template.render(
        report=report,
        generated=_iso(int(datetime.now(UTC).timestamp() * 1000)),
        head_time=_iso(report.head.timestamp) if report.head else "",
        timeline_svg=timeline_svg(report),
    )
