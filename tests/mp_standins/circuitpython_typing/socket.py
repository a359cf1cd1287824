"""circuitpython_typing.socket stand-in (tests/mp_heap.py): names only."""

CircuitPythonSocketType = InterfaceType = SocketpoolModuleType = SocketType = SSLContextType = None
