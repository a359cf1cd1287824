"""The receiver's web page: devices with last-seen and status, a score-over-time plot per
device (alarm line at 1.0, anomaly spans shaded) and the latest events with their
explanations. Rendered on the server as plain HTML + inline SVG (no scripts, no network
fetches), refreshed by the browser every 10 s.
"""

from __future__ import annotations

import html
import json
import time

from host_tools.fleet.routes import explain
from host_tools.fleet.store import Store

W, H, PAD = 640, 160, 30


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _plot(device: str, rows: list[dict]) -> str:
    if not rows:
        return '<p class="empty">no scores yet</p>'
    t0, t1 = rows[0]["received"], rows[-1]["received"]
    span = max(t1 - t0, 1e-6)
    top = max(2.0, max(r["score"] for r in rows) * 1.1)

    def x(t: float) -> float:
        return PAD + (W - 2 * PAD) * ((t - t0) / span if len(rows) > 1 else 0.5)

    def y(v: float) -> float:
        return H - PAD - (H - 2 * PAD) * min(v, top) / top

    spans, start = [], None
    for r in rows:
        if r["event"] == "anomaly_start" and start is None:
            start = r["received"]
        elif r["event"] == "anomaly_end" and start is not None:
            spans.append((start, r["received"]))
            start = None
    if start is not None:
        spans.append((start, t1))
    parts = [f'<svg class="plot" data-device="{html.escape(device)}" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" aria-label="score of {html.escape(device)}">',
             f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>']
    for a, b in spans:
        parts.append(f'<rect class="anomaly-span" x="{x(a):.1f}" y="{PAD}" width="{max(x(b) - x(a), 2):.1f}" '
                     f'height="{H - 2 * PAD}" fill="#f8d0d0"/>')
    parts.append(f'<line class="alarm-line" x1="{PAD}" x2="{W - PAD}" y1="{y(1.0):.1f}" y2="{y(1.0):.1f}" '
                 'stroke="#d00" stroke-dasharray="6 4"/>')
    parts.append(f'<text x="{W - PAD + 2}" y="{y(1.0) + 4:.1f}" font-size="10" fill="#d00">1.0</text>')
    pts = " ".join(f"{x(r['received']):.1f},{y(r['score']):.1f}" for r in rows)
    parts.append(f'<polyline class="score" points="{pts}" fill="none" stroke="#036" stroke-width="1.5"/>')
    for r in rows:
        if r["event"] == "anomaly_start":
            parts.append(f'<circle cx="{x(r["received"]):.1f}" cy="{y(r["score"]):.1f}" r="3" fill="#d00"/>')
    parts.append(f'<text x="{PAD}" y="{H - 8}" font-size="10">{time.strftime("%H:%M:%S", time.localtime(t0))}</text>')
    parts.append(f'<text x="{W - PAD}" y="{H - 8}" font-size="10" text-anchor="end">'
                 f'{time.strftime("%H:%M:%S", time.localtime(t1))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(store: Store, now: float | None = None) -> str:
    now = time.time() if now is None else now
    devices = store.devices()
    out = ['<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">',
           "<title>Anomaly telemetry</title><style>body{font-family:sans-serif;margin:1em}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
           ".anomaly,.fault{color:#b00;font-weight:bold}.normal{color:#070}</style></head><body>",
           "<h1>Anomaly telemetry</h1>",
           f'<h2>Devices ({len(devices)})</h2><table id="devices"><tr><th>device</th><th>status</th>'
           "<th>last seen</th><th>last score</th><th>alarms</th><th>payloads</th></tr>"]
    for d in devices:
        st = html.escape(str(d.get("status")))
        score = d.get("score")
        out.append(f'<tr class="device" data-device="{html.escape(d["device"])}"><td>{html.escape(d["device"])}</td>'
                   f'<td class="{st}">{st}</td><td>{_age(now - d["last_seen"])}</td>'
                   f'<td>{"" if score is None else f"{score:.3f}"}</td><td>{d["alarms"]}</td><td>{d["n"]}</td></tr>')
    out.append("</table>")
    for d in devices:
        out.append(f'<h2>{html.escape(d["device"])}: score over time (1.0 = alarm line)</h2>')
        out.append(_plot(d["device"], store.series(d["device"])))
    out.append('<h2>Latest events</h2><table id="events"><tr><th>received</th><th>device</th><th>seq</th>'
               "<th>event</th><th>score</th><th>explanation</th></tr>")
    for e in store.events(limit=50, newest_first=True):
        if e["kind"] not in ("event", "status"):
            continue
        p = json.loads(e["payload"])
        sc = "" if e["score"] is None else f"{e['score']:.3f}"
        what = e["event"] or f"status {e['state']}"
        why = explain(p) if e["event"] == "anomaly_start" else (p.get("error") or "")
        out.append(f'<tr><td>{time.strftime("%H:%M:%S", time.localtime(e["received"]))}</td>'
                   f'<td>{html.escape(e["device"])}</td><td>{e["seq"]}</td><td>{html.escape(what)}</td>'
                   f'<td>{sc}</td><td>{html.escape(why)}</td></tr>')
    out.append("</table>")
    out.append(conflicts_html(store))
    out.append("</body></html>")
    return "".join(out)


def conflicts_html(store: Store, limit: int = 20) -> str:
    """Payloads that repeated a stored (device, boot, seq) with other content: a forger,
    or a board whose sequence restarted without a new boot id. Empty when there are none."""
    rows = store.conflicts(limit)
    if not rows:
        return ""
    out = [f'<h2 class="anomaly">Conflicts ({store.count_conflicts()}): same device, boot and sequence '
           'number, different content</h2><table id="conflicts"><tr><th>received</th><th>device</th>'
           "<th>boot</th><th>seq</th><th>source</th><th>stored</th><th>arrived later</th></tr>"]
    for c in rows:
        out.append(f'<tr><td>{time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c["received"]))}</td>'
                   f'<td>{html.escape(c["device"])}</td><td>{c["boot"]}</td><td>{c["seq"]}</td>'
                   f'<td>{html.escape(c["source"])}</td><td><code>{html.escape(str(c["stored_payload"]))}</code></td>'
                   f'<td><code>{html.escape(c["payload"])}</code></td></tr>')
    out.append("</table>")
    return "".join(out)
