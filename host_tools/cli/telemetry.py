"""Commands `receive` and `events` (the receiver: host_tools/fleet/).

    python -m host_tools receive --db telemetry.db --http 0.0.0.0:8080 --token T \\
        [--mqtt mqtt://user:pass@host:1883 --group receivers] [--lora-serial /dev/ttyACM0 \\
        --lora-key HEX] [--routes routes.json]
    python -m host_tools events --db telemetry.db|postgresql://... [--json] [--device D]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

from device import payload_check, payloads
from host_tools.data.datasets import DataError


# ---- receive ---------------------------------------------------------------------------

def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        p = int(port)
    except ValueError:
        p = -1
    if not 0 <= p <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", p


def _keys(a: argparse.Namespace):
    if a.lora_keys:
        try:
            with open(a.lora_keys, encoding="utf-8") as f:
                doc = json.load(f)
            return {str(k): payloads.parse_key(v) for k, v in doc.items()}
        except (OSError, ValueError, AttributeError) as e:
            raise DataError(f"{a.lora_keys}: expected a JSON object device -> hex key ({e})") from None
    key = a.lora_key or os.environ.get("LORA_KEY")
    if key:
        try:
            return payloads.parse_key(key)
        except payloads.PayloadError as e:
            raise DataError(f"--lora-key: {e}") from None
    return None


def _names(path: str | None) -> tuple[list | None, list | None]:
    if not path:
        return None, None
    from device import model as model_mod

    try:
        doc = model_mod.load(path)
    except model_mod.ModelError as e:
        raise DataError(f"{path}: {e}") from None
    return doc["features"]["names"], [m["name"] for m in doc["modes"]]


def cmd_receive(a: argparse.Namespace) -> int:
    from host_tools.fleet import receiver
    from host_tools.fleet import routes
    from host_tools.fleet import store

    token = a.token if a.token is not None else os.environ.get("RECEIVER_TOKEN")
    if a.http and not token and not a.no_token:
        raise DataError("--token (or RECEIVER_TOKEN) is required for the HTTP endpoint; --no-token to accept anyone")
    st = store.open_store(a.db)
    r = routes.Routes.load(a.routes) if a.routes else None
    keys = _keys(a)
    if a.lora_serial and keys is None:
        raise DataError("--lora-serial needs --lora-key (or --lora-keys FILE)")
    names, modes = _names(a.model)
    unpacker = payload_check.Unpacker(keys, names, modes) if keys is not None else None
    if not a.stale_after > 0:
        raise DataError(f"--stale-after {a.stale_after}: heartbeat intervals must be > 0")
    rx = receiver.Receiver(st, token, r, unpacker, a.max_body)
    rx.stale_after = a.stale_after
    if a.http:
        try:
            srv = rx.serve_http(*a.http)
        except OSError as e:
            raise DataError(f"--http {a.http[0]}:{a.http[1]}: {e.strerror}") from None
        h, p = srv.server_address[:2]
        print(f"receiving on http://{h}:{p}/ingest, dashboard http://{h}:{p}/", flush=True)
    if a.mqtt:
        try:
            rx.serve_mqtt(a.mqtt, a.topic, a.group, a.client_id)
        except ValueError as e:
            raise DataError(f"--mqtt: {e}") from None
        print(f"subscribed to {a.topic}/+/+ on {urllib.parse.urlsplit(a.mqtt).hostname}"
              + (f" (shared group {a.group})" if a.group else ""), flush=True)
    if a.lora_serial:
        rx.serve_lora(sys.stdin if a.lora_serial == "-" else receiver.serial_lines(a.lora_serial, a.baud))
        print(f"reading LoRa gateway lines from {a.lora_serial}", flush=True)
    if not (a.http or a.mqtt or a.lora_serial):
        raise DataError("nothing to receive: give --http, --mqtt or --lora-serial")
    print(f"storing to {getattr(st, 'where', a.db)}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait(a.seconds if a.seconds else None)
    except KeyboardInterrupt:
        pass
    rx.close()
    for line in rx.summary_lines():
        print(line, file=sys.stderr, flush=True)
    c = rx.counters()
    print(f"stored {c['stored']}, duplicates {c['duplicates']}, rejected {sum(c['rejected'].values())}",
          flush=True)
    st.close()
    return 0


def cmd_events(a: argparse.Namespace) -> int:
    from host_tools.fleet import store

    if not store.is_url(a.db) and not os.path.isfile(a.db):
        raise DataError(f"{a.db}: no such database file")
    st = store.open_store(a.db)
    rows = st.events(a.device, a.limit, newest_first=bool(a.limit))
    if a.limit:
        rows = rows[::-1]
    for r in rows:
        if a.json:
            print(json.dumps(store.view(r)))
        else:
            what = r["event"] or r["state"] or ""
            score = "" if r["score"] is None else f"{r['score']:.3f}"
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r['received']))}\t{r['device']}\t"
                  f"{r['seq']}\t{r['kind']}\t{what}\t{score}\t{r['source']}")
    st.close()
    return 0


def add_commands(sub) -> None:
    """Register `receive` and `events` on cli.build_parser's subparsers."""
    from host_tools.cli.helptext import add_command

    r = add_command(sub, "receive", "receive telemetry (HTTP, MQTT, LoRa), store it, serve the dashboard",
                    "%(prog)s --db telemetry.db --http 127.0.0.1:8080 --token s3cret\n"
                    "%(prog)s --db postgresql://rx@localhost/telemetry --mqtt mqtt://rx:pass@localhost:1883 "
                    "--group receivers")
    r.add_argument("--db", default="telemetry.db", help="SQLite file or postgresql:// URL")
    r.add_argument("--http", type=_hostport, metavar="HOST:PORT", default=None,
                   help="HTTP endpoint and dashboard, e.g. 0.0.0.0:8080")
    r.add_argument("--token", help="bearer token the boards send (or env RECEIVER_TOKEN)")
    r.add_argument("--no-token", action="store_true", help="accept HTTP posts without a token")
    r.add_argument("--max-body", type=int, default=8192, help="largest HTTP body in bytes")
    r.add_argument("--mqtt", metavar="URL", help="mqtt://user:pass@host:port to subscribe to")
    r.add_argument("--topic", default="anomaly", help="MQTT topic prefix (the boards' MQTT_TOPIC)")
    r.add_argument("--group", help="MQTT shared-subscription group: receivers in one group split the traffic")
    r.add_argument("--client-id", help="MQTT client id (default: generated)")
    r.add_argument("--lora-serial", metavar="PORT", help="the gateway board's serial port ('-' = stdin)")
    r.add_argument("--baud", type=int, default=115200, help="--lora-serial: baud rate of the gateway's port")
    r.add_argument("--lora-key", help="LoRa key in hex (or env LORA_KEY)")
    r.add_argument("--lora-keys", metavar="FILE", help="JSON object: device id -> hex key")
    r.add_argument("--model", help="model file: names the features and modes in LoRa packets")
    r.add_argument("--routes", metavar="FILE", help="alert routes (JSON), see host_tools/fleet/routes.py")
    r.add_argument("--stale-after", type=float, metavar="N",
                   default=float(os.environ.get("STALE_HEARTBEATS", "3")),
                   help="dashboard: a device is stale after N heartbeat intervals without a payload, "
                        "offline after 2N (env STALE_HEARTBEATS; default 3)")
    r.add_argument("--seconds", type=float, default=0, help="stop after this long (0 = until Ctrl-C)")
    r.set_defaults(func=cmd_receive)

    e = add_command(sub, "events", "list stored telemetry, oldest first",
                    "%(prog)s --db telemetry.db --device fan-1 --limit 50\n"
                    "%(prog)s --db telemetry.db --json")
    e.add_argument("--db", required=True, help="SQLite file or postgresql:// URL")
    e.add_argument("--json", action="store_true", help="one JSON object per line")
    e.add_argument("--device", help="only this device's payloads (default: every device)")
    e.add_argument("--limit", type=int, default=0, help="only the newest N (0 = all)")
    e.set_defaults(func=cmd_events)
