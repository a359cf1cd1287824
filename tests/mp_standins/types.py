"""types stand-in (tests/mp_heap.py): adafruit_requests imports TracebackType off CircuitPython."""

TracebackType = None
