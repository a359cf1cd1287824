"""What a configuration leaves of the heap of a board without PSRAM (an ESP32-S3 has ~150 KB):
the accelerometer app's need per transport, the thermal camera's figures per MLX_READ and
model modes, and the transports' libraries.
Used by the settings check (device/settings.py) and, once the model is known, by the
wiring (device/wiring.py). A module of its own so that the wiring can ask after the
settings module has left the heap; setup-only (wiring.SETUP_MODULES)."""

# ---- thermal configurations on a board without PSRAM (issue 20) -------------------------
# Heap left (bytes, estimate) on a 150 KB heap with a 4-mode thermal model and console
# output, per MLX_READ (tests/thermal_bench.py "thermal heap"); each mode fewer frees its
# two pixel maps, each transport takes its libraries (README: "Thermal camera: frame rate
# and heap"). The driver path holds less but allocates ~87 KB per frame in 4 KB blocks.
THERMAL_FREE_4_MODES = {"fast": 18880, "driver": 28650}
THERMAL_PER_MODE = 6440
TRANSPORT_HEAP = {"console": 0, "none": 0, "lora": 5880, "http": 16400, "mqtt": 25600}


def thermal_fit(read, telemetry, modes=None):
    """(free bytes estimated, warning or None) for a thermal configuration on an ESP32-S3
    without PSRAM: MLX_READ `read`, TELEMETRY `telemetry`, a model of `modes` pixel modes
    (None: the smallest, 1). Fits: 16 KB left with http/mqtt (the network stack's working
    room), 8 KB otherwise; the driver path never next to http/mqtt."""
    m = modes or 1
    free = THERMAL_FREE_4_MODES[read] + (4 - m) * THERMAL_PER_MODE - TRANSPORT_HEAP.get(telemetry, 0)
    net = telemetry in ("http", "mqtt")
    if read == "driver" and net:
        return free, ("MLX_READ = driver with TELEMETRY = %s: the driver allocates ~87 KB per frame in 4 KB "
                      "blocks next to the network stack; on a board without PSRAM use MLX_READ = fast" % telemetry)
    need = 16384 if net else 8192
    if free < need:
        return free, ("thermal camera with %d pixel mode(s), MLX_READ = %s, TELEMETRY = %s leaves about %d KB "
                      "of the ~150 KB heap of a board without PSRAM (%d KB needed): fewer modes, another "
                      "transport, or a board with PSRAM" % (m, read, telemetry, max(free, 0) // 1024, need // 1024))
    return free, None


# ---- the accelerometer app on a board without PSRAM (issue 15) ---------------------------
# Heap (bytes) the accelerometer app with the 4-mode fan model needs per TELEMETRY: the
# larger of its peak (setup or loop) and what it holds after warm-up plus working room
# (16 KB next to http/mqtt, 8 KB otherwise). Board estimates, not measurements:
# tests/mp_heap.py's "board estimate" (docs/board.md section 9).
ACCEL_NEED = {"none": 101214, "console": 101214, "lora": 128449, "http": 139158, "mqtt": 149820}


def accel_fit(telemetry, total):
    """A warning when a heap of `total` bytes is smaller than the accelerometer app with
    TELEMETRY `telemetry` is estimated to need (ACCEL_NEED), else None (None also where the
    heap cannot be told)."""
    need = ACCEL_NEED.get(telemetry)
    if need is None or total is None or total >= need:
        return None
    return ("TELEMETRY = %s: the accelerometer app needs about %d KB of heap (estimate, docs/board.md section 9) "
            "and this board has %d KB: watch mem_low in the heartbeats, or use LoRa, or a board with PSRAM"
            % (telemetry, (need + 1023) // 1024, total // 1024))
