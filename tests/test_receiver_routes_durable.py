"""Alert routes are as durable as events: queued in the database with their event, each
route delivered by its own worker (a hanging webhook delays no other route), retried with
back-off, and what was not delivered before a restart is delivered after it. The routes
file is checked at start with one clear error."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from device import payloads
from host_tools.fleet import receiver, routes, store


class Hook:
    """A loopback webhook: mode 'ok' (204), 'fail' (500) or 'hang' (answers after `hang` s)."""

    def __init__(self, mode="ok", hang=3.0):
        self.mode, self.hang, self.seqs = mode, hang, []
        hook = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.mode == "hang":
                    time.sleep(hook.hang)
                if hook.mode == "fail":
                    self.send_response(500)
                else:
                    hook.seqs.append(body["seq"])
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def _start(seq):
    p = payloads.event("anomaly_start", 2.0, "high", top=[["rms", 0.5]])
    p.update(device="pump-3", seq=seq, boot=9, t=seq * 1.0)
    return p


def _routes(tmp_path, url, log):
    cfg = tmp_path / "routes.json"
    cfg.write_text(json.dumps({"routes": [{"type": "webhook", "url": url, "timeout": 0.5, "name": "hook"},
                                          {"type": "log", "path": str(log)}]}))
    r = routes.Routes.load(str(cfg), log=lambda line: None)
    r.backoff_s, r.backoff_max_s, r.poll_s = 0.05, 0.2, 0.1
    return r


def _wait(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not cond():
        time.sleep(0.05)
    return cond()


def test_alerts_survive_a_restart_and_a_hanging_webhook_delays_no_other_route(tmp_path):
    db = str(tmp_path / "a.db")
    log = tmp_path / "alerts.log"
    hanging = Hook("hang", hang=2.0)
    st = store.open_store(db)
    rx = receiver.Receiver(st, routes=_routes(tmp_path, hanging.url, log), log=lambda line: None)
    t0 = time.monotonic()
    for seq in range(1, 21):
        assert rx.ingest(_start(seq), "http") == "stored"
        assert rx.ingest(_start(seq), "http") == "duplicate"  # no second alert
    # the log route is done long before the hanging webhook got through even two alerts
    assert _wait(lambda: log.exists() and len(log.read_text().splitlines()) == 20, 10)
    log_s = time.monotonic() - t0
    assert st.alert_counts()["hook"].get("pending", 0) >= 18
    rx.close()  # the receiver stops with the webhook's alerts undelivered
    st.close()
    hanging.close()

    good = Hook("ok")
    st2 = store.open_store(db)
    rx2 = receiver.Receiver(st2, routes=_routes(tmp_path, good.url, log), log=lambda line: None)
    assert _wait(lambda: len(set(good.seqs)) == 20, 60)
    assert rx2.routes.wait(10)
    assert sorted(set(good.seqs)) == list(range(1, 21)) and len(good.seqs) == 20
    assert len(log.read_text().splitlines()) == 20  # the log route did not fire again
    counts = st2.alert_counts()
    assert counts["hook"] == {"delivered": 20} and counts["log " + str(log)] == {"delivered": 20}
    print("routes: log route 20/20 in %.2f s while the webhook hung; webhook 20/20 after a restart, "
          "0 duplicates" % log_s)
    rx2.close()
    st2.close()
    good.close()


def test_a_failing_target_is_retried_with_backoff_then_given_up(tmp_path):
    failing = Hook("fail")
    cfg = tmp_path / "r.json"
    cfg.write_text(json.dumps({"routes": [{"type": "webhook", "url": failing.url, "retries": 3}]}))
    lines = []
    r = routes.Routes.load(str(cfg), log=lines.append)
    r.backoff_s = 0.05
    st = store.open_store(str(tmp_path / "f.db"))
    rx = receiver.Receiver(st, routes=r, log=lambda line: None)
    rx.ingest(_start(1), "http")
    assert _wait(lambda: st.alert_counts().get("webhook " + failing.url, {}).get("failed") == 1)
    assert any("gave up" in x and "after 4 attempts" in x and "HTTP Error 500" in x for x in lines), lines
    rx.close()
    st.close()
    failing.close()


@pytest.mark.parametrize("route,why", [
    ({"type": "webhook", "url": "http://x", "retries": "two"}, "retries: expected a whole number"),
    ({"type": "webhook", "url": "http://x", "timeout": 0}, "timeout"),
    ({"type": "webhook", "url": "http://x", "headers": {"X": 1}}, "headers"),
    ({"type": "webhook", "url": "http://x", "retry": 2}, "unknown key 'retry'"),
    ({"type": "log", "path": 5}, "path"),
    ({"type": "sms"}, "type must be webhook or log"),
    ("log", "expected an object"),
])
def test_routes_file_checked_at_start(tmp_path, route, why):
    cfg = tmp_path / "routes.json"
    cfg.write_text(json.dumps({"routes": [{"type": "log"}, route]}))
    with pytest.raises(routes.DataError) as e:
        routes.Routes.load(str(cfg))
    assert str(cfg) in str(e.value) and "route 2" in str(e.value) and why in str(e.value)


def test_receive_refuses_a_bad_routes_file_with_one_error(tmp_path, capsys):
    from conftest import cli_error

    cfg = tmp_path / "routes.json"
    cfg.write_text(json.dumps({"routes": [{"type": "webhook", "url": "http://127.0.0.1:9/h", "retries": "two"}]}))
    line = cli_error(capsys, ["receive", "--db", str(tmp_path / "x.db"), "--no-token", "--http", "127.0.0.1:0",
                              "--routes", str(cfg)])
    assert "route 1: retries: expected a whole number >= 0, got 'two'" in line
    assert not (tmp_path / "x.db").exists()  # checked before anything started
