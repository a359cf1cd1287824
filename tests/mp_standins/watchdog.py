"""watchdog stand-in (tests/mp_heap.py): the mode names."""


class WatchDogMode:
    RAISE = "RAISE"
    RESET = "RESET"


class WatchDogTimeout(Exception):
    pass
