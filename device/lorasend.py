"""The LoRa transport: one signed 51-byte packet per payload (adafruit_rfm9x), True on the
gateway's ACK.

A module of its own (heap): a LoRa board loads this and device/lorapack.py (the packet
layout and its HMAC), not the Wi-Fi, HTTP or MQTT code nor the rest of device/payloads.py.
Built by device/telemetry.make_transport, which leaves the heap after setup.
"""

from device.lorapack import pack


class LoraTransport:
    """Send each payload as one signed 49-byte packet, confirmed by the gateway's ACK.

    The RadioHead reliable-datagram exchange is done here with the driver's send() and
    receive(), not with send_with_ack(): that one sleeps a random 1-2 ACK waits after every
    missed ACK (also after the last), which at SF12 kept the loop 20 s. Here one send costs
    `tries` x (airtime + ack_wait) and further retries are the outbox's, with back-off."""

    name = "lora"

    def __init__(self, radio, key, names=None, modes=None, ack_wait=0.3, tries=1):
        self.radio = radio
        self.key = key
        self.names = names  # the model's feature names: top features travel as indexes
        self.modes = modes
        self.ack_wait = ack_wait
        self.tries = tries
        self._id = 0
        self.last_error = None

    def send(self, payload):
        try:
            pkt = pack(payload, self.key, self.names, self.modes)
            r = self.radio
            for i in range(self.tries):
                self._id = (self._id + 1) & 0xFF
                if not r.send(pkt, keep_listening=True, identifier=self._id, flags=0):
                    continue
                if r.destination == 0xFF:  # broadcast: nobody acknowledges
                    return True
                ack = r.receive(timeout=self.ack_wait, with_header=True)
                if ack is not None and len(ack) >= 4 and ack[3] & 0x80 and ack[2] == self._id:
                    return True
            return False
        except Exception as e:  # noqa: BLE001
            self.last_error = "%s: %s" % (type(e).__name__, e)
            return False
