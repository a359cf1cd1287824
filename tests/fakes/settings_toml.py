"""Read settings.toml the way CircuitPython's os.getenv does, per core version.

Written from adafruit/circuitpython shared-module/os/getenv.c and shared-bindings/os/
__init__.c (9.2.x-10.1.x and 10.2.x; /work/shared/notes/circuitpython-semantics.md):
- values are double-quoted strings (escapes \\n \\t \\" \\\\ ...) or integers (decimal,
  0x hex); single quotes are NOT strings there;
- up to 10.1 getenv returns str or int and raises on a value it cannot parse (a bare
  float, 'single quotes') when that key is read;
- from 10.2 getenv returns every value as str (an integer's text) and never raises; typed
  values come from supervisor.get_setting().
Comments, blank lines; a [table] ends the readable part. The file is re-read per call on
the board; here it is read once (`getenv_from(path, version)` returns the function).
"""


def _version_tuple(v):
    out = []
    for part in str(v).split("-")[0].split("."):
        try:
            out.append(int(part))
        except ValueError:
            break
    return tuple(out)


def _parse_value(text, key):
    t = text.strip()
    if t.startswith('"'):
        out = []
        i = 1
        while i < len(t):
            ch = t[i]
            if ch == "\\":
                nx = t[i + 1]
                out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nx, nx))
                i += 2
                continue
            if ch == '"':
                return "".join(out)
            out.append(ch)
            i += 1
        raise ValueError("settings.toml: unterminated string for %s" % key)
    v = t.split("#")[0].strip()
    try:
        if v.lower().startswith("0x"):
            return int(v[2:], 16)
        return int(v)
    except ValueError:
        raise ValueError("settings.toml: invalid value for %s: %s" % (key, v))


def read(path):
    """key -> raw text of the value (parsed lazily, like the board)."""
    d = {}
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return d
    for line in text.split("\n"):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("["):
            break
        if "=" not in s:
            continue
        k, v = s.split("=", 1)
        d[k.strip()] = v
    return d


def getenv_from(path, version="10.1.0"):
    raw = read(path)
    strings = _version_tuple(version) >= (10, 2)

    def getenv(key, default=None):
        if key not in raw:
            return default
        if strings:  # 10.2+: a str for every value, nothing raises
            try:
                v = _parse_value(raw[key], key)
            except ValueError:
                return raw[key].split("#")[0].strip()
            return v if isinstance(v, str) else raw[key].split("#")[0].strip()
        return _parse_value(raw[key], key)

    return getenv
