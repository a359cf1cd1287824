"""Commands `receive` and `events` (the receiver: host_tools/fleet/).

    python -m host_tools receive --db telemetry.db --http 0.0.0.0:8080 --device-tokens tokens.json \\
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


def _device_tokens(path: str | None) -> dict[str, str] | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise DataError(f"{path}: cannot read the device tokens: {e.strerror}") from None
    except ValueError as e:
        raise DataError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not doc:
        raise DataError(f'{path}: expected a JSON object device id -> token, e.g. {{"fan-1": "..."}}')
    seen: set = set()
    for d, t in doc.items():
        if not payload_check._id_ok(d):
            raise DataError(f"{path}: {d!r} is not a device id (letters, digits, - _ . :)")
        if not isinstance(t, str) or len(t) < 16:
            raise DataError(f"{path}: the token of {d!r} must be text of at least 16 characters")
        if t in seen:
            raise DataError(f"{path}: two devices share one token ({d!r}): give each its own")
        seen.add(t)
    return doc


def cmd_receive(a: argparse.Namespace) -> int:
    from host_tools.fleet import receiver
    from host_tools.fleet import routes
    from host_tools.fleet import store

    token = a.token if a.token is not None else os.environ.get("RECEIVER_TOKEN")
    dev_tokens = _device_tokens(a.device_tokens)
    if a.http and not token and not dev_tokens and not a.no_token:
        raise DataError("--device-tokens FILE (or --token / RECEIVER_TOKEN) is required for the HTTP "
                        "endpoint; --no-token to accept anyone")
    if a.max_body < 256:
        raise DataError("--max-body: at least 256 bytes")
    # everything that can be wrong with the options is found before anything starts
    r = routes.Routes.load(a.routes) if a.routes else None
    keys = _keys(a)
    if a.lora_serial and keys is None:
        raise DataError("--lora-serial needs --lora-keys FILE (or --lora-key)")
    names, modes = _names(a.model)
    st = store.open_store(a.db)
    unpacker = payload_check.Unpacker(keys, names, modes) if keys is not None else None
    if not a.stale_after > 0:
        raise DataError(f"--stale-after {a.stale_after}: heartbeat intervals must be > 0")
    read_token = a.read_token if a.read_token is not None else os.environ.get("RECEIVER_READ_TOKEN", token)
    rx = receiver.Receiver(st, token, r, unpacker, a.max_body, device_tokens=dev_tokens,
                           read_token=read_token, public_reads=a.public_dashboard,
                           max_connections=a.max_connections)
    if token and dev_tokens is None and a.http:
        print("# note: one shared --token lets any board speak for any other; --device-tokens binds "
              "each board to its id", file=sys.stderr, flush=True)
    rx.stale_after = a.stale_after
    if a.http:
        try:
            srv = rx.serve_http(*a.http)
        except OSError as e:
            raise DataError(f"--http {a.http[0]}:{a.http[1]}: {e.strerror}") from None
        h: str  # typeshed types an INET server's host as str | bytes; getsockname() gives it as str
        h, p = srv.server_address[:2]  # type: ignore[assignment]
        print(f"receiving on http://{h}:{p}/ingest, dashboard http://{h}:{p}/"
              + (" (public)" if a.public_dashboard else " (read token)" if read_token
                 else " (off: give --read-token or --public-dashboard)"), flush=True)
    if a.mqtt:
        try:
            m = rx.serve_mqtt(a.mqtt, a.topic, a.group, a.client_id)
        except ValueError as e:
            raise DataError(f"--mqtt: {e}") from None
        print(f"subscribed to {a.topic}/+/+ on {urllib.parse.urlsplit(a.mqtt).hostname}"
              + (f" (shared group {a.group})" if a.group else "") + f" as client {m.client_id}", flush=True)
    if a.lora_serial:
        if a.lora_serial == "-":
            rx.serve_lora(sys.stdin, lambda line: print(line, flush=True))
        else:
            gw = receiver.GatewaySerial(a.lora_serial, a.baud)
            rx.serve_lora(gw, gw.reply)
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
    print(f"stored {c['stored']}, duplicates {c['duplicates']}, conflicts {c['conflicts']}, "
          f"rejected {sum(c['rejected'].values())}, storage failures {c['store_errors']}", flush=True)
    st.close()
    return 0


def cmd_events(a: argparse.Namespace) -> int:
    from host_tools.fleet import store, wording

    if not store.is_url(a.db) and not os.path.isfile(a.db):
        raise DataError(f"{a.db}: no such database file")
    st = store.open_store(a.db)
    if a.conflicts:
        for c in st.conflicts(a.limit or 1000)[::-1]:
            if a.device and c["device"] != a.device:
                continue
            print(json.dumps(dict(c, payload=json.loads(c["payload"]),
                                  stored_payload=json.loads(c["stored_payload"]) if c["stored_payload"] else None))
                  if a.json else
                  f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(c['received']))}\t{c['device']}\t"
                  f"boot {c['boot']}\tseq {c['seq']}\t{c['source']}\tstored: {c['stored_payload']}\t"
                  f"arrived: {c['payload']}")
        st.close()
        return 0
    rows = st.events(a.device, a.limit, newest_first=bool(a.limit))
    if a.limit:
        rows = rows[::-1]
    for r in rows:
        if a.json:
            print(json.dumps(store.view(r)))
        else:
            what = r["event"] or r["state"] or ""
            score = "" if r["score"] is None else f"{r['score']:.3f}"
            line = (f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r['received']))}\t{r['device']}\t"
                    f"{r['seq']}\t{r['kind']}\t{what}\t{score}\t{r['source']}")
            if r["event"] == "anomaly_start":  # the dashboard's words for an alert
                line += "\t" + wording.explain_words(store.view(r)["payload"])
            print(line)
    st.close()
    return 0


def add_commands(sub) -> None:
    """Register `receive` and `events` on cli.build_parser's subparsers."""
    from host_tools.cli.helptext import add_command

    r = add_command(sub, "receive", "receive telemetry (HTTP, MQTT, LoRa), store it, serve the dashboard",
                    "%(prog)s --db telemetry.db --http 127.0.0.1:8080 --device-tokens tokens.json --read-token r3ad\n"
                    "%(prog)s --db postgresql://rx@localhost/telemetry --mqtt mqtt://rx:pass@localhost:1883 "
                    "--group receivers")
    r.add_argument("--db", default="telemetry.db", help="SQLite file or postgresql:// URL (default: telemetry.db)")
    r.add_argument("--http", type=_hostport, metavar="HOST:PORT", default=None,
                   help="HTTP endpoint and dashboard, e.g. 0.0.0.0:8080 (default: no HTTP)")
    r.add_argument("--device-tokens", metavar="FILE",
                   help='JSON object device id -> token: each board\'s token speaks only for its id '
                        '(a post for another id gets 403 and is logged with the address) (default: none)')
    r.add_argument("--token", help="one bearer token any board may use for any device id (or env "
                                   "RECEIVER_TOKEN; default: none; prefer --device-tokens)")
    r.add_argument("--no-token", action="store_true", help="accept HTTP posts without a token (default: off)")
    r.add_argument("--read-token", help="token for the dashboard and /api (Bearer, or HTTP Basic with any "
                                        "user and this password; or env RECEIVER_READ_TOKEN; default: --token)")
    r.add_argument("--public-dashboard", action="store_true",
                   help="serve the dashboard and /api to anyone without a token (default: off)")
    r.add_argument("--max-body", type=int, default=8192,
                   help="largest HTTP body and MQTT message in bytes (default: 8192)")
    r.add_argument("--max-connections", type=int, default=256,
                   help="HTTP connections served at once; more get 503 at once (default: 256)")
    r.add_argument("--mqtt", metavar="URL", help="mqtt://user:pass@host:port to subscribe to (default: no MQTT)")
    r.add_argument("--topic", default="anomaly", help="MQTT topic prefix, the boards' MQTT_TOPIC (default: anomaly)")
    r.add_argument("--group", help="MQTT shared-subscription group: receivers in one group split the traffic "
                                   "(default: none)")
    r.add_argument("--client-id", help="MQTT client id; the broker keeps its session while the receiver is "
                                       "away (default: derived from --db, --topic, --group and the host name)")
    r.add_argument("--lora-serial", metavar="PORT", help="the gateway board's serial port ('-' = stdin, "
                                                         "confirmations on stdout) (default: no LoRa)")
    r.add_argument("--baud", type=int, default=115200, help="gateway serial speed (default: 115200)")
    r.add_argument("--lora-keys", metavar="FILE", help="JSON object device id -> hex key, a key per board "
                                                       "(default: none)")
    r.add_argument("--lora-key", help="one LoRa key in hex for every board (or env LORA_KEY; default: none; "
                                      "prefer --lora-keys)")
    r.add_argument("--model", help="model file: names the features and modes in LoRa packets (default: none)")
    r.add_argument("--routes", metavar="FILE", help="alert routes (JSON), see host_tools/fleet/routes.py (default: none)")
    r.add_argument("--stale-after", type=float, metavar="N",
                   default=float(os.environ.get("STALE_HEARTBEATS", "3")),
                   help="dashboard: a device is stale after N heartbeat intervals without a payload, "
                        "offline after 2N (env STALE_HEARTBEATS; default 3)")
    r.add_argument("--seconds", type=float, default=0, help="stop after this long (default: 0 = until Ctrl-C)")
    r.set_defaults(func=cmd_receive)

    e = add_command(sub, "events", "list stored telemetry, oldest first (anomaly starts explained in words)",
                    "%(prog)s --db telemetry.db --device fan-1 --limit 50\n"
                    "%(prog)s --db telemetry.db --json")
    e.add_argument("--db", required=True, help="SQLite file or postgresql:// URL")
    e.add_argument("--json", action="store_true",
                   help="one JSON object per line (default: a tab-separated table, anomaly starts with their explanation)")
    e.add_argument("--device", help="only this device (default: all)")
    e.add_argument("--limit", type=int, default=0, help="only the newest N (default: 0 = all)")
    e.add_argument("--conflicts", action="store_true",
                   help="list the payloads that repeated a stored (device, boot, seq) with other content "
                        "(default: off)")
    e.set_defaults(func=cmd_events)
