"""The receiver's web pages, rendered on the server as HTML + inline SVG (no network
fetches; one small inline script writes every time in the viewer's own time zone):

- `/`: every device with its state (normal, anomaly, fault, stale, offline), when it was
  last heard of, its open alerts, a score chart (y axis, alarm line, anomaly spans), and
  the latest alerts explained in words;
- `/device/<id>?range=1h|24h|7d|30d|all` (or `from`/`to` as dates): one device's history
  in that range, its anomalies with their durations and acknowledgements, and a form to
  acknowledge an alert (a name and a note, stored in the database: `POST /ack`).

Times are the board's own: a payload's `t` (board seconds) is placed on the calendar by
the reception time of the payload that arrived soonest after it was made (per boot of
the board), so a burst of queued payloads keeps the spacing the board gave them.
Stale/offline: no payload for `stale_after` heartbeat intervals (stale) or twice that
(offline); the interval is measured from the device's own heartbeats.
"""

from __future__ import annotations

import html
import json
import math
import statistics
import time
import urllib.parse

from host_tools.fleet import store as store_mod
from host_tools.fleet import wording
from host_tools.fleet.store import Store

W, H = 720, 190
L, R, T, B = 46, 14, 12, 34  # plot margins: y tick labels left, time labels below
DEFAULT_STALE_AFTER = 3.0  # heartbeat intervals without a payload before a device is stale
DEFAULT_INTERVAL = 60.0  # seconds assumed between heartbeats before two were seen
RANGES = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "all": None}

e = html.escape


# ---- time ------------------------------------------------------------------------------

def board_times(rows: list[dict]) -> list[float]:
    """Epoch seconds of each payload (rows in seq order of one device): from the board's
    `t` where it has one, placed by the soonest-delivered payload of the same boot (a new
    boot is where `t` goes backwards); the reception time otherwise."""
    out = [float(r["received"]) for r in rows]
    seg: list[int] = []

    def close() -> None:
        if not seg:
            return
        if all(rows[i].get("t") is not None and float(rows[i]["t"]) > 1e9 for i in seg):
            for i in seg:  # the board keeps calendar time (RTC/NTP): take it as it is
                out[i] = float(rows[i]["t"])
            return
        offset = min(float(rows[i]["received"]) - float(rows[i]["t"]) for i in seg)
        for i in seg:
            out[i] = float(rows[i]["t"]) + offset

    last_t = None
    for i, r in enumerate(rows):
        t = r.get("t")
        if t is None:
            close()
            seg = []
            last_t = None
            continue
        if last_t is not None and float(t) < last_t:
            close()
            seg = []
        seg.append(i)
        last_t = float(t)
    close()
    return out


def _utc(ts: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.gmtime(ts)) + " UTC"


def when(ts: float | None, short: bool = False) -> str:
    """A date the viewer's browser rewrites in its own zone (UTC until the script runs)."""
    if ts is None:
        return ""
    return (f'<time class="ts{" short" if short else ""}" datetime="{_utc(ts, "%Y-%m-%dT%H:%M:%SZ")[:-4]}" '
            f'data-t="{ts:.3f}">{_utc(ts)}</time>')


def duration(seconds: float) -> str:
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


_SCRIPT = """<script>
(function(){
  var o={year:'numeric',month:'short',day:'numeric',hour:'2-digit',minute:'2-digit',second:'2-digit',timeZoneName:'short'};
  var s={month:'short',day:'numeric',hour:'2-digit',minute:'2-digit'};
  document.querySelectorAll('[data-t]').forEach(function(n){
    var d=new Date(parseFloat(n.getAttribute('data-t'))*1000);
    n.textContent=d.toLocaleString(undefined,n.classList.contains('short')?s:o);
  });
  var z=document.getElementById('zone');
  if(z){z.textContent=Intl.DateTimeFormat().resolvedOptions().timeZone;}
})();
</script>"""


# ---- explanations: host_tools/fleet/wording.py (shared with the routes and the CLI) ------

feature_words = wording.feature_words
explain_words = wording.explain_words


# ---- state -------------------------------------------------------------------------------

def heartbeat_interval(rows: list[dict]) -> float:
    """Median seconds between a device's heartbeats (board time where it has it)."""
    hb = [r for r in rows if r.get("kind") == "heartbeat"]
    ts = board_times(hb)
    gaps = [b - a for a, b in zip(ts, ts[1:]) if b > a]
    return statistics.median(gaps[-50:]) if gaps else DEFAULT_INTERVAL


def state_of(status: str, last_seen: float, interval: float, now: float, stale_after: float) -> str:
    age = now - last_seen
    if age > 2 * stale_after * interval:
        return "offline"
    if age > stale_after * interval:
        return "stale"
    return status or "unknown"


def anomalies(rows: list[dict], times: list[float], now: float) -> list[dict]:
    """Anomaly episodes: start row, end time (None while open), duration so far."""
    out: list[dict] = []
    cur = None
    for r, ts in zip(rows, times):
        if r.get("event") == "anomaly_start":
            if cur is not None:
                cur["end"] = ts
                out.append(cur)
            cur = {"row": r, "start": ts, "end": None}
        elif r.get("event") == "anomaly_end" and cur is not None:
            cur["end"] = ts
            out.append(cur)
            cur = None
    if cur is not None:
        out.append(cur)
    for a in out:
        a["duration"] = (a["end"] if a["end"] is not None else now) - a["start"]
        a["payload"] = _payload(a["row"])
    return out


def _payload(r: dict) -> dict:
    p = r.get("payload")
    return json.loads(p) if isinstance(p, str) else dict(p or {})


def device_summary(st: Store, now: float, stale_after: float) -> list[dict]:
    """store.devices() plus: state with stale/offline, heartbeat interval, last seen on
    the board's clock, open alerts (not acknowledged)."""
    devs = st.devices()
    ack = store_mod.acks(st)
    for d in devs:
        rows = store_mod.history(st, d["device"], limit=500)
        times = board_times(rows)
        d["interval"] = heartbeat_interval(rows)
        d["state"] = state_of(str(d.get("status")), float(d["last_seen"]), d["interval"], now, stale_after)
        d["open_alerts"] = sum(1 for r in rows if r.get("event") == "anomaly_start"
                               and (r["device"], int(r["seq"])) not in ack)
        d["last_time"] = times[-1] if times else d["last_seen"]
    return devs


# ---- the chart -----------------------------------------------------------------------------

def _nice_step(span: float) -> float:
    raw = span / 4
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def chart(device: str, rows: list[dict], times: list[float], now: float | None = None) -> str:
    pts = [(ts, float(r["score"])) for r, ts in zip(rows, times) if r.get("score") is not None]
    if not pts:
        return '<p class="empty">no scores yet</p>'
    t0, t1 = min(p[0] for p in pts), max(p[0] for p in pts)
    if t1 - t0 < 60:  # one point or a short burst: a minute around it
        mid = (t0 + t1) / 2
        t0, t1 = mid - 30, mid + 30
    top = max(1.5, max(p[1] for p in pts) * 1.1)
    step = _nice_step(top)
    top = math.ceil(top / step) * step

    def x(t: float) -> float:
        return L + (W - L - R) * (t - t0) / (t1 - t0)

    def y(v: float) -> float:
        return H - B - (H - T - B) * min(max(v, 0.0), top) / top

    out = [f'<svg class="plot" data-device="{e(device)}" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'role="img" aria-label="score of {e(device)} over time">',
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="#fff" stroke="#bbb"/>']
    for a in anomalies(rows, times, now or t1):
        xa, xb = x(max(a["start"], t0)), x(min(a["end"] if a["end"] is not None else t1, t1))
        out.append(f'<rect class="anomaly-span" x="{xa:.1f}" y="{T}" width="{max(xb - xa, 2):.1f}" '
                   f'height="{H - T - B}" fill="#f8d0d0"/>')
    v = 0.0
    while v <= top + 1e-9:  # y axis: gridlines and labels
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
                   f'<text class="ytick" x="{L - 4}" y="{y(v) + 3:.1f}" font-size="10" text-anchor="end">{v:g}</text>')
        v += step
    out.append(f'<text x="10" y="{(H - B + T) / 2:.0f}" font-size="10" transform="rotate(-90 10 '
               f'{(H - B + T) / 2:.0f})" text-anchor="middle">score (1 = alarm line)</text>')
    out.append(f'<line class="alarm-line" x1="{L}" x2="{W - R}" y1="{y(1.0):.1f}" y2="{y(1.0):.1f}" '
               'stroke="#d00" stroke-dasharray="6 4"/>')
    if len(pts) > 1:
        out.append('<polyline class="score" points="' + " ".join(f"{x(t):.1f},{y(s):.1f}" for t, s in pts)
                   + '" fill="none" stroke="#036" stroke-width="1.5"/>')
    if len(pts) <= 60:
        out.extend(f'<circle class="point" cx="{x(t):.1f}" cy="{y(s):.1f}" r="2.5" fill="#036"/>' for t, s in pts)
    for r, ts in zip(rows, times):
        if r.get("event") == "anomaly_start" and r.get("score") is not None:
            out.append(f'<circle cx="{x(ts):.1f}" cy="{y(float(r["score"])):.1f}" r="4" fill="#d00"/>')
    for i in range(4):  # time axis: four dates in the viewer's zone
        ts = t0 + (t1 - t0) * i / 3
        anchor = ("start", "middle", "middle", "end")[i]
        out.append(f'<text x="{x(ts):.1f}" y="{H - B + 14}" font-size="10" text-anchor="{anchor}" '
                   f'class="ts short" data-t="{ts:.3f}">{_utc(ts, "%m-%d %H:%M")}</text>')
    out.append("</svg>")
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
        out.append(f'<tr><td>{when(c["received"])}</td>'
                   f'<td>{html.escape(c["device"])}</td><td>{c["boot"]}</td><td>{c["seq"]}</td>'
                   f'<td>{html.escape(c["source"])}</td><td><code>{html.escape(str(c["stored_payload"]))}</code></td>'
                   f'<td><code>{html.escape(c["payload"])}</code></td></tr>')
    out.append("</table>")
    return "".join(out)


# ---- pages -------------------------------------------------------------------------------

_STYLE = ("<style>body{font-family:sans-serif;margin:1em;max-width:1100px}table{border-collapse:collapse;"
          "margin:.4em 0}td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px;vertical-align:top}"
          "th{background:#f2f2f2;text-align:left}.anomaly,.fault,.offline{color:#b00;font-weight:bold}"
          ".stale{color:#a60;font-weight:bold}.normal{color:#070}.acked{color:#555}"
          "nav a{margin-right:.8em}.note{color:#555;font-size:13px}form.ack input{font-size:12px}"
          "h2{margin-top:1.2em}</style>")


def _page(title: str, body: list[str], refresh: bool = True) -> str:
    head = ['<!doctype html><html><head><meta charset="utf-8">']
    if refresh:
        head.append('<meta http-equiv="refresh" content="30">')
    head.append(f"<title>{e(title)}</title>{_STYLE}</head><body>")
    return "".join(head + body + [_SCRIPT, "</body></html>"])


def _dev_link(device: str) -> str:
    return f'<a href="/device/{urllib.parse.quote(device, safe="")}">{e(device)}</a>'


def render(st: Store, now: float | None = None, stale_after: float = DEFAULT_STALE_AFTER) -> str:
    now = time.time() if now is None else now
    devs = device_summary(st, now, stale_after)
    ack = store_mod.acks(st)
    out = ["<h1>Anomaly telemetry</h1>",
           f'<p class="note">Times in your time zone (<span id="zone">UTC</span>), from the boards\' own '
           f'clocks. A device is <span class="stale">stale</span> after {stale_after:g} heartbeat '
           f'intervals without a word and <span class="offline">offline</span> after {2 * stale_after:g}.</p>',
           f'<h2>Devices ({len(devs)})</h2><table id="devices"><tr><th>device</th><th>state</th>'
           "<th>last heard</th><th>mode</th><th>last score</th><th>open alerts</th><th>alarms</th>"
           "<th>heartbeat every</th></tr>"]
    for d in devs:
        sc = d.get("score")
        out.append(f'<tr class="device" data-device="{e(d["device"])}"><td>{_dev_link(d["device"])}</td>'
                   f'<td class="{e(d["state"])} state">{e(d["state"])}</td>'
                   f'<td>{when(d["last_time"])} ({duration(now - d["last_seen"])} ago)</td>'
                   f'<td>{e(str(d.get("mode") or ""))}</td>'
                   f'<td>{"" if sc is None else f"{sc:.2f}"}</td><td>{d["open_alerts"]}</td>'
                   f'<td>{d["alarms"]}</td><td>{duration(d["interval"])}</td></tr>')
    out.append("</table>")
    for d in devs:
        rows = store_mod.history(st, d["device"], since=now - 86400.0, limit=2000)
        if not rows:
            rows = store_mod.history(st, d["device"], limit=200)
        out.append(f'<h2>{_dev_link(d["device"])}: score, last 24 h of data</h2>')
        out.append(chart(d["device"], rows, board_times(rows), now))
    out.append('<h2>Latest alerts</h2><table id="events"><tr><th>when</th><th>device</th><th>what</th>'
               "<th>explanation</th><th>acknowledged</th></tr>")
    for r in st.events(limit=200, newest_first=True):
        if r["kind"] not in ("event", "status") or r["event"] == "anomaly_end":
            continue
        p = _payload(r)
        ts = board_times(store_mod.history(st, r["device"], until=r["received"], limit=200))
        a = ack.get((r["device"], int(r["seq"])))
        what = "anomaly" if r["event"] == "anomaly_start" else f"status {r['state']}"
        out.append(f'<tr><td>{when(ts[-1] if ts else r["received"])}</td><td>{_dev_link(r["device"])}</td>'
                   f'<td>{e(what)}</td><td>{e(explain_words(p))}</td>'
                   f'<td>{_ack_cell(a) if r["event"] == "anomaly_start" else ""}</td></tr>')
    out.append("</table>")
    out.append(conflicts_html(st))
    return _page("Anomaly telemetry", out)


def _ack_cell(a: dict | None) -> str:
    if not a:
        return '<span class="open">open</span>'
    return (f'<span class="acked">by {e(a["name"])}, {when(a["at"])}'
            + (f": {e(a['note'])}" if a["note"] else "") + "</span>")


def _parse_range(q: dict, now: float) -> tuple[float | None, float | None, str]:
    """?range=24h, or ?from=2026-12-01&to=2026-12-04T12:00 (UTC unless an offset is given)."""
    def date(s: str) -> float:
        import datetime as dt

        v = dt.datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return v.timestamp()

    if q.get("from") or q.get("to"):
        since = date(q["from"]) if q.get("from") else None
        until = date(q["to"]) if q.get("to") else None
        return since, until, "custom"
    key = q.get("range") or "24h"
    if key not in RANGES:
        raise ValueError(f"range {key!r}: one of {', '.join(RANGES)}")
    span = RANGES[key]
    return (None if span is None else now - span), None, key


def render_device(st: Store, device: str, query: dict | None = None, now: float | None = None,
                  stale_after: float = DEFAULT_STALE_AFTER, message: str = "",
                  form_token: str = "") -> str | None:
    """One device's page; None if the device has never sent anything. form_token: the
    receiver's secret the acknowledge form carries (POST /ack refuses a form without it)."""
    now = time.time() if now is None else now
    q = {k: v[0] if isinstance(v, list) else v for k, v in (query or {}).items()}
    devs = {d["device"]: d for d in device_summary(st, now, stale_after)}
    if device not in devs:
        return None
    d = devs[device]
    since, until, key = _parse_range(q, now)
    rows = store_mod.history(st, device, since=since, until=until)
    times = board_times(rows)
    ack = store_mod.acks(st, device)
    link = "/device/" + urllib.parse.quote(device, safe="")
    on = ' class="on"'
    nav = " ".join(f'<a href="{link}?range={k}"{on if k == key else ""}>{"all" if k == "all" else "last " + k}</a>'
                   for k in RANGES)
    out = [f'<p><a href="/">← all devices</a></p><h1>{e(device)}</h1>']
    if message:
        out.append(f'<p class="message"><b>{e(message)}</b></p>')
    out.append(f'<p>State <span class="{e(d["state"])} state">{e(d["state"])}</span>, last heard '
               f'{when(d["last_time"])} ({duration(now - d["last_seen"])} ago), heartbeat every '
               f'{duration(d["interval"])}, {d["n"]} payloads stored. Times in your zone '
               f'(<span id="zone">UTC</span>).</p>')
    out.append(f'<nav>Show: {nav}</nav><form method="get" action="{link}" class="range">from '
               f'<input name="from" type="datetime-local" value="{e(q.get("from", ""))}"> to '
               f'<input name="to" type="datetime-local" value="{e(q.get("to", ""))}"> (UTC) '
               '<button>show</button></form>')
    shown = "everything stored" if since is None and until is None else (
        f"{when(since) if since else 'the start'} to {when(until) if until else 'now'}")
    out.append(f"<h2>Score history ({len(rows)} payloads, {shown})</h2>")
    out.append(chart(device, rows, times, now))
    eps = anomalies(rows, times, now)
    out.append(f'<h2>Anomalies ({len(eps)})</h2><table id="anomalies"><tr><th>started</th><th>lasted</th>'
               "<th>peak score</th><th>explanation</th><th>acknowledged</th></tr>")
    for a in reversed(eps):
        r = a["row"]
        seq = int(r["seq"])
        inside = [float(x["score"]) for x, ts in zip(rows, times)
                  if x.get("score") is not None and a["start"] <= ts <= (a["end"] or now)]
        lasted = duration(a["duration"]) + ("" if a["end"] is not None else " (still on)")
        ak = ack.get((device, seq))
        cell = _ack_cell(ak) if ak else (
            f'<form class="ack" method="post" action="/ack"><input type="hidden" name="device" '
            f'value="{e(device)}"><input type="hidden" name="seq" value="{seq}">'
            f'<input type="hidden" name="token" value="{e(form_token)}">'
            '<input name="name" placeholder="your name" required size="10"> '
            '<input name="note" placeholder="note (what you found or did)" size="28"> '
            "<button>acknowledge</button></form>")
        out.append(f'<tr class="anomaly-row" data-seq="{seq}"><td>{when(a["start"])}</td><td>{e(lasted)}</td>'
                   f'<td>{max(inside, default=float(r.get("score") or 0)):.2f}</td>'
                   f'<td>{e(explain_words(a["payload"]))}</td><td>{cell}</td></tr>')
    out.append("</table>")
    out.append('<h2>Payloads (newest first, at most 200)</h2><table id="payloads"><tr><th>when</th>'
               "<th>seq</th><th>kind</th><th>state / event</th><th>mode</th><th>score</th></tr>")
    for r, ts in list(zip(rows, times))[::-1][:200]:
        sc = "" if r["score"] is None else f"{r['score']:.3f}"
        out.append(f'<tr><td>{when(ts)}</td><td>{r["seq"]}</td><td>{e(r["kind"])}</td>'
                   f'<td>{e(str(r["event"] or r["state"] or ""))}</td><td>{e(str(r["mode"] or ""))}</td>'
                   f"<td>{sc}</td></tr>")
    out.append("</table>")
    return _page(f"{device}: anomaly telemetry", out, refresh=not message)
