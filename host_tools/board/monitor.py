"""`monitor`: follow a board's serial console and show, one line per window, the mode, the
score against the alarm line (score 1.0 = threshold) and events as they happen.

Reads the JSON payloads the app prints (device/outbox.py): `heartbeat` (every
HEARTBEAT_WINDOWS windows: state, mode, score), `event` (anomaly_start / anomaly_end),
`status` (boot, no_model, fault, ...), and a per-window `{"type": "window", "window": N,
"state": ..., "mode": ..., "score": ...}` line when the firmware prints one. `--plot`
draws the score over time with the alarm line and the anomaly spans (PNG, on exit).
"""

from __future__ import annotations

import json
import sys
from typing import Callable, Iterable

from host_tools.fleet import wording  # the alert words the dashboard uses (a sideways step)

BAR = 30  # characters for scores 0..BAR_MAX
BAR_MAX = 2.0


def bar(score: float, width: int = BAR, top: float = BAR_MAX) -> str:
    """`[#####....|.....]`: filled up to the score, `|` is the alarm line (1.0)."""
    fill = int(round(min(max(score, 0.0), top) / top * width))
    line = int(round(1.0 / top * width))
    cells = []
    for i in range(width):
        if i == line:
            cells.append("|" if i >= fill else "#")
        else:
            cells.append("#" if i < fill else ".")
    return "[" + "".join(cells) + ("]" if score <= top else ">")


class Monitor:
    """Turns console lines into view lines and keeps the series for the plot."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write
        self.points: list[tuple[int, float]] = []  # (window, score)
        self.spans: list[list[int | None]] = []  # [start window, end window or None]
        self.scored = 0
        self.events = 0
        self.other = 0
        self.last_window = 0

    def feed(self, raw: str) -> str | None:
        line = raw.strip()
        if line.startswith("# "):
            self.write(line)
            return line
        if not line.startswith("{"):
            self.other += 1  # recording rows, boot text, noise
            return None
        try:
            p = json.loads(line)
        except ValueError:
            self.other += 1
            return None
        if not isinstance(p, dict):
            return None
        kind = p.get("type")
        out = None
        if kind in ("window", "heartbeat"):
            n = int(p.get("window", p.get("windows", self.last_window)) or 0)
            self.last_window = max(self.last_window, n)
            state = str(p.get("state", ""))
            if p.get("score") is None or p.get("mode") is None:
                out = f"{n:7d}  {state:<13} (no score{': ' + state if state == 'commissioning' else ' yet'})"
            else:
                s = float(p["score"])
                self.points.append((n, s))
                self.scored += 1
                flag = "ANOMALY" if p.get("anomaly") or state == "anomaly" else ""
                out = f"{n:7d}  {state:<13} {str(p.get('mode') or '-'):<20} {s:6.3f} {bar(s)} {flag}".rstrip()
        elif kind == "event":
            self.events += 1
            n = int(p.get("window", self.last_window) or 0)
            self.last_window = max(self.last_window, n)
            ev = p.get("event")
            if ev == "anomaly_start":
                self.spans.append([n, None])
                # against normal where the board sends `values` ("19× normal"), else the
                # contributions as the board gives them
                top = "; ".join(wording.feature_phrases(p)) if p.get("values") else \
                    ", ".join(f"{k} {v}" for k, v in (p.get("top") or []))
                if p.get("hotspot"):
                    top = (top + "; " if top else "") + wording.spot_words(p["hotspot"]).rstrip(".")
                out = (f"!! ANOMALY at window {n}: mode {p.get('mode')}, score {p.get('score')}"
                       + (f" (most off: {top})" if top else ""))
            elif ev == "anomaly_end":
                if self.spans and self.spans[-1][1] is None:
                    self.spans[-1][1] = n
                out = f"-- anomaly over at window {n} (score {p.get('score')})"
            else:
                out = f"-- event {ev} at window {n}"
            if "score" in p:
                self.points.append((n, float(p["score"])))
        elif kind == "status":
            st = p.get("state")
            extra = {k: v for k, v in p.items() if k not in ("type", "state", "device", "seq", "t", "modes")}
            out = f"-- {st}" + (" " + json.dumps(extra) if extra else "")
        elif kind == "warning":
            out = "-- warning " + json.dumps({k: v for k, v in p.items() if k not in ("type", "device", "seq")})
        if out is not None:
            self.write(out)
        return out

    def plot(self, path: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 3.2))
        if self.points:
            xs, ys = zip(*sorted(self.points))
            ax.plot(xs, ys, ".-", lw=0.8, ms=3, label="score")
        ax.axhline(1.0, color="red", lw=1, ls="--", label="alarm line (threshold)")
        end = self.last_window
        for i, (a, b) in enumerate(self.spans):
            assert a is not None  # a span always has its start window
            ax.axvspan(a, b if b is not None else end, color="red", alpha=0.15,
                       label="anomaly" if i == 0 else None)
        ax.set_xlabel("window")
        ax.set_ylabel("score / threshold")
        ax.set_title(f"{self.scored} scored windows, {len(self.spans)} anomaly span(s)")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def run(a, log: Callable[[str], None] = print) -> int:
    """Run `monitor` from parsed arguments (see host_tools/cli/workflow.py)."""
    import os

    from host_tools.board.collect import CollectError, Limits, serial_lines

    if bool(a.port) == bool(a.source):
        raise CollectError("give one input: --port PORT (the board's serial console) or --from FILE "
                           "(a saved console capture, - for stdin)")
    if a.duration is not None and a.duration <= 0:
        raise CollectError(f"--duration {a.duration}: must be a positive number of seconds")
    if a.port and not os.path.exists(a.port) and "://" not in a.port:
        raise CollectError(f"{a.port}: no such serial port: plug the board in and check the name "
                           "(python -m serial.tools.list_ports lists them)")
    if a.source and a.source != "-" and not os.path.isfile(a.source):
        raise CollectError(f"{a.source}: no such capture file")
    if a.plot:
        d = os.path.dirname(os.path.abspath(a.plot))
        if not os.path.isdir(d):
            raise CollectError(f"--plot {a.plot}: folder {d} does not exist")
    mon = Monitor(log)
    lim = Limits(None, a.duration)
    log(f"monitor: {a.port or a.source}: window, state, mode, score, bar 0..{BAR_MAX:g} with | at the alarm "
        "line (1.0); Ctrl-C to stop")
    disconnects = [0]

    def stop() -> bool:
        return lim.done(0) or (a.windows is not None and mon.scored >= a.windows)

    try:
        if a.port:
            def lost() -> None:
                disconnects[0] += 1
                log("-- serial connection lost; reconnecting")

            lines: Iterable[str | None] = serial_lines(a.port, a.baud, stop, lost)
        else:
            lines = sys.stdin if a.source == "-" else open(a.source, encoding="utf-8", errors="replace")
        for ln in lines:
            if ln is not None:
                mon.feed(ln)
            if stop():
                break
    except KeyboardInterrupt:
        pass
    log(f"monitor: {mon.scored} scored window(s), {mon.events} event(s), {len(mon.spans)} anomaly span(s)"
        + (f", {disconnects[0]} disconnect(s)" if disconnects[0] else ""))
    if a.plot:
        mon.plot(a.plot)
        log(f"monitor: plot written to {a.plot}")
    return 0

