"""The HTTP transport: POST each payload as JSON (adafruit_requests), True on 2xx.

A module of its own (heap): an HTTP board loads this and device/wifilink.py, not the MQTT
or LoRa code nor device/payloads.py (the app builds the payload dicts; JSON is json.dumps).
Built by device/telemetry.make_transport, which leaves the heap after setup.

adafruit_requests: a response that failed half-way leaves its socket registered; on any
failure every socket of the pool is closed.
"""

import json

from device.wifilink import collect

HTTP_OK = (200, 201, 202, 204)
HTTP_REFUSED = (400, 413, 422)  # the receiver will never take this payload: drop it


class HttpTransport:
    """POST each payload as JSON with a bearer token (adafruit_requests Session)."""

    name = "http"

    def __init__(self, session, url, token=None, timeout=3, net=None, pool=None):
        self.session = session
        self.url = url
        self.timeout = timeout
        self.net = net
        self.pool = pool
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        self.rejected = 0
        self.last_status = None
        self.last_error = None

    def send(self, payload):
        if self.net is not None and not self.net.ensure():
            return False
        r = None
        try:
            # adafruit_requests tries twice when a socket fails: half the time each
            r = self.session.post(self.url, data=json.dumps(payload),
                                  headers=self.headers, timeout=self.timeout / 2)
            code = r.status_code
            # read the (tiny) body: Response.close() hands the socket back for reuse
            # without draining it, and the next request would read these bytes as its
            # status line, fail, and be sent again (a duplicate at the receiver)
            r.content
        except Exception as e:  # noqa: BLE001 - OSError, OutOfRetries, MemoryError...
            self.last_error = "%s: %s" % (type(e).__name__, e)
            self._reset()
            return False
        finally:
            if r is not None:
                try:
                    r.close()
                except Exception:
                    self._reset()
        self.last_status = code
        if code in HTTP_OK:
            return True
        if code in HTTP_REFUSED:
            self.rejected += 1
            return True
        return False

    def _reset(self):
        try:
            import adafruit_connection_manager as acm

            acm.connection_manager_close_all(self.pool)
        except Exception:
            pass
        collect()
