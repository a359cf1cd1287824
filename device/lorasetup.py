"""Setup of the LoRa transport: the RFM9x from settings (`make_lora`), its modem settings and
the LoraTransport in front of it (`setup_radio`).

A module of its own (heap): setup-only, dropped with the setup modules
(device.wiring.SETUP_MODULES), and imported only when TELEMETRY = lora, so a Wi-Fi board
never loads the radio's setup code and names; the loop keeps device/lorasend.py and
device/lorapack.py.
"""


def make_lora(s, hw):
    import adafruit_rfm9x

    cs = hw.digital_out(hw.pin(s.LORA_CS), True)
    rst = hw.digital_out(hw.pin(s.LORA_RESET), True)
    radio = adafruit_rfm9x.RFM9x(hw.spi(), cs, rst, s.LORA_FREQUENCY, crc=True)
    return setup_radio(radio, s)


def setup_radio(radio, s):
    radio.enable_crc = True
    radio.spreading_factor = s.LORA_SF
    radio.tx_power = s.LORA_POWER
    radio.node = s.LORA_NODE
    radio.destination = s.LORA_GATEWAY
    # SF11/12 at 125 kHz: symbols longer than 16 ms need low-data-rate optimisation on
    # both ends (SX1276 datasheet; the driver leaves it off). gateway/ sets the same.
    radio.low_datarate_optimize = 1 if s.LORA_SF >= 11 else 0
    from device.lora_time import lora_ack_wait, lora_airtime
    from device.lorapack import PACKET_LEN
    from device.lorasend import LoraTransport
    from device.payloads import parse_key

    radio.xmit_timeout = lora_airtime(s.LORA_SF, PACKET_LEN + 4) + 0.5
    return LoraTransport(radio, parse_key(s.LORA_KEY), ack_wait=lora_ack_wait(s.LORA_SF),
                         tries=s.LORA_RETRIES)
