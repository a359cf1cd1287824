"""typing stand-in (tests/mp_heap.py): Adafruit libraries import it where
sys.implementation.name is not "circuitpython" (the unix port says "micropython")."""

List = Optional = Tuple = Type = Union = Dict = IO = Any = Literal = None
