"""Read settings.toml the way CircuitPython's os.getenv does (strings and integers only).

`getenv_from(path)` returns a getenv function for tests. Supported: `KEY = "string"`
(with \\n, \\", \\\\, \\t escapes), `KEY = 'literal'`, `KEY = 123` / `-5` / `0x1f`,
comments, blank lines; tables ([section]) end the readable part, as on the board.
Anything else (e.g. a bare float) raises ValueError when that key is read, like
CircuitPython's "Invalid value" error.
"""


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
    if t.startswith("'"):
        end = t.find("'", 1)
        if end < 0:
            raise ValueError("settings.toml: unterminated string for %s" % key)
        return t[1:end]
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


def getenv_from(path):
    raw = read(path)

    def getenv(key, default=None):
        if key not in raw:
            return default
        return _parse_value(raw[key], key)

    return getenv
