"""circuitpython_typing stand-in (tests/mp_heap.py): names only."""

ReadableBuffer = WriteableBuffer = None
