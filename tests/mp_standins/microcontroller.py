"""microcontroller stand-in (tests/mp_heap.py): Pin, cpu (uid, reset_reason), watchdog and an
ESP32 nvm of 8 KiB whose every slice access allocates a temporary copy of the whole blob,
as ports/espressif/common-hal/nvm/ByteArray.c does (10.x)."""


class Pin:
    def __init__(self, name):
        self.name = name


class _Cpu:
    uid = b"\x01\x02\x03\x04\x05\x06"
    reset_reason = "POWER_ON"


cpu = _Cpu()


class _Nvm:
    def __init__(self):
        self._b = bytearray(8192)

    def __len__(self):
        return 8192

    def __getitem__(self, i):
        blob = bytes(self._b)  # the firmware reads the whole blob into a new buffer
        return blob[i]

    def __setitem__(self, i, v):
        blob = bytearray(self._b)
        blob[i] = v
        self._b[:] = blob


nvm = _Nvm()


class _WatchDog:
    timeout = 0
    mode = None

    def feed(self):
        pass

    def deinit(self):
        self.mode = None


watchdog = _WatchDog()
