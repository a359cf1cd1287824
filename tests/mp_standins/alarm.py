"""alarm stand-in (tests/mp_heap.py): sleep_memory, RTC memory of an ESP32-S3 (native on a board)."""

sleep_memory = bytearray(4096)
