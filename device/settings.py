"""Board configuration from settings.toml, read through a getenv function.

Pure logic: `load(getenv)` takes CircuitPython's `os.getenv` (or a dict's `get` in tests)
and returns a Settings object with one attribute per key, each converted and checked.
CircuitPython's settings.toml holds only strings and integers, so decimals are accepted
both as quoted strings ("0.1") and, where it makes sense, as integers.

Every problem is collected: a wrong value or a missing required key raises one
SettingsError that lists them all, each naming the key, what it got and what it expects.
Keys that are not given take the documented default (settings.toml.example lists every key).
"""

from device.chips import MLX_REFRESH
from device.heapfit import THERMAL_FREE_4_MODES, THERMAL_PER_MODE, TRANSPORT_HEAP, thermal_fit  # noqa: F401
from device.lora_time import LORA_FRAME, lora_ack_wait, lora_airtime
from device.chips import MSA_BANDWIDTHS as ACCEL_BANDWIDTHS
from device.chips import MSA_DATA_RATES as ACCEL_DATA_RATES
from device.chips import MSA_RANGES as ACCEL_RANGES

SENSORS = ("msa301", "mlx90640", "replay")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# (key, kind, default, check) -- check: tuple of allowed values, or (lo, hi) range for
# numbers given as a list [lo, hi]; None for no check. REQUIRED marks a key with no default.
REQUIRED = object()
SPEC = (
    # what is attached and how it is sampled
    ("SENSOR", "choice", REQUIRED, SENSORS),
    ("DEVICE_ID", "str", None, None),
    ("MODEL_PATH", "str", "model.json", None),
    ("SAMPLE_RATE", "float", None, [0.1, 1000.0]),
    ("WINDOW", "int", None, [8, 1024]),
    ("ACCEL_RANGE", "int", 4, ACCEL_RANGES),
    ("ACCEL_DATA_RATE", "float", 500.0, ACCEL_DATA_RATES),
    ("ACCEL_BANDWIDTH", "float", 250.0, ACCEL_BANDWIDTHS),
    ("ACCEL_READ", "choice", "raw", ("raw", "driver")),
    ("MLX_REFRESH_HZ", "float", 2.0, MLX_REFRESH),
    ("MLX_READ", "choice", "fast", ("fast", "driver")),
    ("I2C_SCL", "str", "SCL", None),
    ("I2C_SDA", "str", "SDA", None),
    ("I2C_FREQUENCY", "int", 400000, [10000, 1000000]),
    ("I2C_POWER_PIN", "pin", None, None),
    ("I2C_POWER_ACTIVE_LOW", "bool", False, None),
    ("REPLAY_PATH", "str", "replay", None),
    ("REPLAY_KIND", "choice", "accel", ("accel", "thermal")),
    ("REPLAY_LOOP", "bool", True, None),
    ("REPLAY_REALTIME", "bool", True, None),
    ("SENSOR_RETRIES", "int", 3, [0, 20]),
    # alerts
    ("BUZZER_PIN", "pin", None, None),
    ("BUZZER_ANOMALY_HZ", "int", 2000, [100, 10000]),
    ("BUZZER_FAULT_HZ", "int", 500, [100, 10000]),
    ("BUZZER_SECONDS", "int", 10, [0, 3600]),
    ("LED_PIN", "pin", "LED?", None),
    ("LED_ACTIVE_LOW", "bool", False, None),
    ("NEOPIXEL_PIN", "pin", "NEOPIXEL?", None),
    ("NEOPIXEL_POWER_PIN", "pin", "NEOPIXEL_POWER?", None),
    ("NEOPIXEL_BRIGHTNESS", "float", 0.1, [0.0, 1.0]),
    # outputs
    ("TELEMETRY", "choice", "console", ("console", "none", "http", "mqtt", "lora")),
    ("HEARTBEAT_WINDOWS", "int", 60, [0, 1000000]),
    # telemetry (secrets live only in settings.toml)
    ("CIRCUITPY_WIFI_SSID", "str", None, None),
    ("CIRCUITPY_WIFI_PASSWORD", "str", None, None),
    ("WIFI_TIMEOUT", "int", 8, [1, 60]),
    ("TZ_OFFSET", "float", 0.0, [-12.0, 14.0]),  # hours from UTC: the local day of a days-off profile
    ("HTTP_URL", "str", None, None),
    ("HTTP_TOKEN", "str", None, None),
    ("MQTT_BROKER", "str", None, None),
    ("MQTT_PORT", "int", 0, [0, 65535]),
    ("MQTT_USER", "str", None, None),
    ("MQTT_PASSWORD", "str", None, None),
    ("MQTT_TLS", "bool", False, None),
    ("MQTT_TOPIC", "str", "anomaly", None),
    ("MQTT_CLIENT_ID", "str", None, None),
    ("MQTT_HA_DISCOVERY", "bool", False, None),
    ("MQTT_HA_PREFIX", "str", "homeassistant", None),
    # adafruit_rfm9x 2.2.x: the frequency setter raises outside 240..960 MHz; SF6 needs
    # implicit-header mode, which the driver does not offer
    ("LORA_FREQUENCY", "float", 868.0, [240.0, 960.0]),
    ("LORA_SF", "int", 7, [7, 12]),
    ("LORA_POWER", "int", 13, [5, 23]),
    ("LORA_KEY", "str", None, None),
    ("LORA_CS", "str", "D5", None),
    ("LORA_RESET", "str", "D6", None),
    ("LORA_NODE", "int", 1, [1, 254]),
    ("LORA_GATEWAY", "int", 2, [1, 254]),
    ("LORA_RETRIES", "int", 1, [1, 5]),
    ("SEND_TIMEOUT", "int", 3, [1, 30]),
    ("SEND_BUDGET_MS", "int", 250, [10, 10000]),
    ("OUTBOX_CAPACITY", "int", 16, [1, 256]),
    ("OUTBOX_SPILL_PATH", "str", "outbox.jsonl", None),
    ("OUTBOX_SPILL_BYTES", "int", 65536, [0, 1048576]),
    ("RECORD", "choice", "off", ("off", "serial", "file", "http")),
    ("RECORD_PATH", "str", "recordings", None),
    ("RECORD_MAX_FILES", "int", 1000, [1, 100000]),
    ("RECORD_URL", "str", None, None),
    ("RECORD_TOKEN", "str", None, None),
    # robustness
    ("WATCHDOG_TIMEOUT", "float", 10.0, [0.0, 3600.0]),
    ("WATCHDOG_MODE", "choice", "reset", ("reset", "raise")),
    ("COMMISSION_WINDOWS", "int", 0, [0, 100000]),
    ("COMMISSION_MODE", "str", None, None),
    ("COMMISSION_ID", "str", "", None),
    ("PERSIST", "choice", "auto", ("auto", "nvm", "file", "off")),
    ("PERSIST_PATH", "str", "state", None),
    ("PERSIST_EVERY", "int", 300, [1, 1000000]),
    ("MAX_WINDOWS", "int", 0, [0, 1000000000]),
)

# What each network transport needs in settings.toml (checked only when it is chosen).
_NEEDS = {"http": ("HTTP_URL", "CIRCUITPY_WIFI_SSID"),
          "mqtt": ("MQTT_BROKER", "CIRCUITPY_WIFI_SSID"),
          "lora": ("LORA_KEY",)}
_LATER = ()


class SettingsError(ValueError):
    """settings.toml has missing or invalid keys; the message lists every problem."""

    def __init__(self, problems):
        super().__init__("settings.toml: " + "; ".join(problems))
        self.problems = list(problems)


class Settings:
    """One attribute per key (converted); `given` lists keys that settings.toml set,
    `warnings` what the checks found. No methods on purpose: a method's function refers to
    this module's globals, so one would keep this whole module's code in the board's heap
    for as long as the wiring holds the settings (device/wiring.py drops the module as soon
    as the settings are read)."""

    given = []  # type: list  # each instance gets its own (_new_settings)
    warnings = []  # type: list


def _new_settings():
    s = Settings()
    s.given = []
    s.warnings = []
    return s


def _fmt(v):
    return repr(v)


def _to_float(v):
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, (int, float)):
        return float(v)
    return float(str(v).strip())


def _to_int(v):
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if s.lower().startswith("0x"):
        return int(s[2:], 16)
    return int(s)


def _to_bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if v in (0, 1):
            return v == 1
        raise ValueError
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError


def _close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _convert(key, kind, raw, check):
    """Returns the converted value or raises ValueError with an explanation."""
    if kind == "str":
        return str(raw)
    if kind == "pin":
        s = str(raw).strip()
        return None if s.lower() in ("", "none", "off") else s
    if kind == "choice":
        s = str(raw).strip().lower()
        if s not in check:
            if key == "TELEMETRY" and s in _LATER:
                raise ValueError("%r is not available in this firmware yet (use console or none)" % (raw,))
            raise ValueError("got %s, expected one of %s" % (_fmt(raw), ", ".join(check)))
        return s
    if kind == "bool":
        try:
            return _to_bool(raw)
        except ValueError:
            raise ValueError("got %s, expected 1/0 (or true/false)" % _fmt(raw))
    if kind == "int":
        try:
            v = _to_int(raw)
        except ValueError:
            raise ValueError("got %s, expected a whole number" % _fmt(raw))
    elif kind == "float":
        try:
            v = _to_float(raw)
        except ValueError:
            raise ValueError("got %s, expected a number (write decimals in quotes: \"0.5\")" % _fmt(raw))
        if not (v == v) or v in (float("inf"), float("-inf")):
            raise ValueError("got %s, expected a finite number" % _fmt(raw))
    else:
        raise ValueError("unknown kind %s" % kind)
    if isinstance(check, list):
        if not check[0] <= v <= check[1]:
            raise ValueError("got %s, expected %s..%s" % (_fmt(raw), check[0], check[1]))
    elif isinstance(check, tuple):
        for c in check:
            if _close(v, c):
                return c
        raise ValueError("got %s, expected one of %s" % (_fmt(raw), ", ".join(str(c) for c in check)))
    return v


def load(getenv):
    """Read every key through getenv(key) -> str, int or None. Raises SettingsError."""
    s = _new_settings()
    problems = []
    for key, kind, default, check in SPEC:
        try:
            raw = getenv(key)
        except Exception as e:  # CircuitPython raises on a malformed settings.toml line
            problems.append("%s: cannot be read (%s)" % (key, e))
            raw = None
        if raw is None:
            if default is REQUIRED:
                problems.append("%s is required (%s)" % (key, ", ".join(check)))
                setattr(s, key, None)
            else:
                setattr(s, key, default)
            continue
        s.given.append(key)
        try:
            setattr(s, key, _convert(key, kind, raw, check))
        except ValueError as e:
            problems.append("%s: %s" % (key, e))
            setattr(s, key, None if default is REQUIRED else default)
    if not problems:
        _cross_checks(s, problems)
    if problems:
        raise SettingsError(problems)
    return s


def _telemetry_checks(s, problems):
    if s.RECORD == "http":
        for key in ("RECORD_URL", "RECORD_TOKEN", "CIRCUITPY_WIFI_SSID"):
            if not getattr(s, key):
                problems.append("%s is required with RECORD = http" % key)
        if s.RECORD_URL and not s.RECORD_URL.startswith(("http://", "https://")):
            problems.append("RECORD_URL: got %r, expected http://host:port/windows (collect --http)" % s.RECORD_URL)
    for key in _NEEDS.get(s.TELEMETRY, ()):
        if not getattr(s, key):
            problems.append("%s is required with TELEMETRY = %s" % (key, s.TELEMETRY))
    if s.TELEMETRY == "http" and s.HTTP_URL and not s.HTTP_URL.startswith(("http://", "https://")):
        problems.append("HTTP_URL: got %r, expected http://... or https://..." % s.HTTP_URL)
    if s.TELEMETRY == "lora" and s.LORA_KEY:
        try:
            from device import payloads

            payloads.parse_key(s.LORA_KEY)
        except ValueError as e:
            problems.append("LORA_KEY: %s" % e)
    if s.TELEMETRY in _NEEDS and s.PERSIST == "off":
        problems.append("PERSIST = off with TELEMETRY = %s: sequence numbers would restart at every "
                        "reset and the receiver would discard new payloads as duplicates" % s.TELEMETRY)
    if s.TELEMETRY == "lora" and s.LORA_NODE == s.LORA_GATEWAY:
        problems.append("LORA_NODE and LORA_GATEWAY must differ (got %d)" % s.LORA_NODE)
    if s.TELEMETRY == "mqtt" and s.MQTT_USER and s.MQTT_PASSWORD is None:
        # adafruit_minimqtt 8.x sends a password whenever there is a user:
        # len(None.encode()) fails every connect
        problems.append("MQTT_USER is set but MQTT_PASSWORD is not: MiniMQTT cannot log in with a user "
                        "and no password (give MQTT_PASSWORD, \"\" for an empty one)")
    if s.WATCHDOG_TIMEOUT and s.TELEMETRY in _NEEDS:
        worst = send_block_seconds(s)
        if s.WATCHDOG_TIMEOUT < worst + 2.0:
            problems.append("WATCHDOG_TIMEOUT: %s s is shorter than the longest %s send (%.1f s with "
                            "SEND_BUDGET_MS, %s) plus 2 s: the watchdog would fire inside it; use at least %d"
                            % (s.WATCHDOG_TIMEOUT, s.TELEMETRY, worst, _BLOCK_KEYS[s.TELEMETRY],
                               int(worst + 3.0)))


_BLOCK_KEYS = {"http": "SEND_TIMEOUT", "mqtt": "SEND_TIMEOUT", "lora": "LORA_SF and LORA_RETRIES"}


def send_block_seconds(s):
    """The longest one outbox pump can block the loop (the outbox stops after its time
    budget, checked between sends, so: budget + one send's worst case). Wi-Fi (re)connects
    are not counted: the watchdog is paused around them (device.wifilink.Wifi)."""
    budget = s.SEND_BUDGET_MS / 1000.0
    if s.TELEMETRY == "lora":
        return budget + s.LORA_RETRIES * (lora_airtime(s.LORA_SF, LORA_FRAME) + lora_ack_wait(s.LORA_SF))
    if s.TELEMETRY == "mqtt":  # connect (CONNACK) + publish (PUBACK), each up to recv_timeout
        return budget + 2.0 * max(2, s.SEND_TIMEOUT) + 1.0
    return budget + float(s.SEND_TIMEOUT)


def _cross_checks(s, problems):
    _telemetry_checks(s, problems)
    _thermal_checks(s)
    if s.COMMISSION_WINDOWS and s.COMMISSION_WINDOWS < 3:
        problems.append("COMMISSION_WINDOWS: got %d, expected 0 (off) or at least 3" % s.COMMISSION_WINDOWS)
    if s.SENSOR == "msa301" and s.SAMPLE_RATE is not None and s.SAMPLE_RATE > s.ACCEL_DATA_RATE:
        s.warnings.append("SAMPLE_RATE %s Hz is above ACCEL_DATA_RATE %s Hz: samples will repeat"
                          % (s.SAMPLE_RATE, s.ACCEL_DATA_RATE))
    if s.WATCHDOG_TIMEOUT and s.WATCHDOG_TIMEOUT < 2.0:
        problems.append("WATCHDOG_TIMEOUT: got %s, expected 0 (off) or at least 2 seconds" % s.WATCHDOG_TIMEOUT)
    if s.SENSOR == "mlx90640" and s.WATCHDOG_TIMEOUT:
        need = 2.0 * 2.0 / s.MLX_REFRESH_HZ + 2.0  # a frame is two sub-pages
        if s.WATCHDOG_TIMEOUT < need:
            problems.append("WATCHDOG_TIMEOUT: %s s is shorter than one MLX90640 frame at %s Hz "
                            "plus margin; use at least %d" % (s.WATCHDOG_TIMEOUT, s.MLX_REFRESH_HZ, int(need + 1)))


def _thermal_checks(s):
    if s.SENSOR != "mlx90640":
        return
    _free, warn = thermal_fit(s.MLX_READ, s.TELEMETRY)
    if warn:
        s.warnings.append(warn)
    # one sub-page's RAM read (1,664 bytes + addressing, 9 clocks a byte) must fit a
    # sub-page period, or the chip overwrites it mid-read ("Too many retries")
    read_ms = 1700 * 9 * 1000.0 / s.I2C_FREQUENCY
    period_ms = 1000.0 / s.MLX_REFRESH_HZ
    if read_ms > period_ms:
        s.warnings.append("MLX_REFRESH_HZ %s: a sub-page comes every %.1f ms but reading one takes %.1f ms at "
                          "I2C_FREQUENCY %d; raise I2C_FREQUENCY (1000000) or lower MLX_REFRESH_HZ"
                          % (s.MLX_REFRESH_HZ, period_ms, read_ms, s.I2C_FREQUENCY))


def lenient_int(getenv, key, default=0):
    """An integer setting read without validation (for loop bounds in error states)."""
    try:
        v = getenv(key)
        return default if v is None else _to_int(v)
    except Exception:
        return default


def defaults():
    """A Settings object holding every default (SENSOR left None): used to light the
    status outputs when settings.toml itself is wrong."""
    s = _new_settings()
    for key, kind, default, check in SPEC:
        setattr(s, key, None if default is REQUIRED else default)
    return s
