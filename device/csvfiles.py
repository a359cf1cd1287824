"""A recording folder's CSV files in the order the host and the board's replay both take them:
natural order ('H2' before 'H10': digit runs compare as numbers).

A module of its own for the board's heap: the replay sensor (device/replay.py) imports it once
per replay, to list its folder, and forgets it after. Only functions live here.
"""


def natural_key(name):
    """Sort key for file names in natural order ('H2' before 'H10': digit runs compare as
    numbers), the order the host and the board's replay both take a session's files in."""
    key = []
    i = 0
    n = len(name)
    while i < n:
        j = i
        digits = name[i].isdigit()
        while j < n and name[j].isdigit() == digits:
            j += 1
        part = name[i:j]
        key.append((0, int(part), "") if digits else (1, 0, part.lower()))
        i = j
    return key


def listing(listdir, folder):
    """The .csv files of `folder` (names, not starting with a dot) in natural order; OSError
    when the folder is missing or has none. `listdir`: os.listdir or a stand-in."""
    try:
        names = listdir(folder)
    except OSError:
        raise OSError(2, "replay folder %r not found" % folder)
    files = sorted([n for n in names if n.lower().endswith(".csv") and not n.startswith(".")], key=natural_key)
    if not files:
        raise OSError(2, "replay folder %r has no .csv files" % folder)
    return files
