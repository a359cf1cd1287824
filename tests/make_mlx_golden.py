"""Write tests/golden/mlx90640.jsonl: the MLX90640 agreement cases for the board self-test.

    .venv/bin/python tests/make_mlx_golden.py [out.jsonl]

The unmodified Adafruit driver (adafruit_mlx90640) runs on the I2C stand-in with
Melexis's example data (tests/mlx_example.py); the file holds what device/mlxconv.py
needs to convert the same sub-pages on a board, and the driver's temperatures. JSON
Lines, one object a line, so a board parses one line at a time (a 150 KB heap cannot hold
the whole file parsed):
    {"kind": "params", ...}     the driver's extracted parameters (one EEPROM)
    {"kind": "subpages", ...}   the example's two RAM sub-pages (832 words each)
    {"kind": "case", "name", "control", "bad", "patch": [[subpage, word, value], ...],
     "override": {parameter: value, or [[pixel, value], ...] for the per-pixel lists},
     "expected": [768 deg C from the driver's getFrame, 4 decimals]}
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import mlx_example as mx  # noqa: E402

OUT = os.path.join(HERE, "golden", "mlx90640.jsonl")
PARAMS = ("kVdd", "vdd25", "KvPTAT", "KtPTAT", "vPTAT25", "alphaPTAT", "gainEE", "tgc", "KsTa", "resolutionEE",
          "calibrationModeEE", "ksTo", "ct", "alphaScale", "ktaScale", "kvScale", "cpAlpha", "cpOffset", "ilChessC",
          "cpKta", "cpKv", "alpha", "offset", "kta", "kv")


def lines():
    ex = mx.example()
    base = [ex["ram_0x0400_subpage0"], ex["ram_0x0400_subpage1"]]
    out = []
    params = None
    for name, ee, frames, ctl in mx.cases():
        bus = mx.SimBus(ee, frames, control=ctl)
        drv = mx.fresh_driver(bus)
        want = mx.driver_frame(drv)
        p = {"kind": "params"}
        for k in PARAMS:
            v = getattr(drv, k)
            p[k] = list(v) if isinstance(v, (list, tuple)) else v
        if params is None:
            params = p
            out.append(p)
            out.append({"kind": "subpages", "words": base})
        override = {}
        if params is not None:  # one EEPROM's parameters; a case with bad pixels changes a few
            for k in PARAMS:
                if p[k] == params[k]:
                    continue
                if isinstance(p[k], list) and len(p[k]) == 768:
                    override[k] = [[i, v] for i, v in enumerate(p[k]) if v != params[k][i]]
                else:
                    override[k] = p[k]
        patch = []
        for sp, (words, _n) in enumerate(frames):
            for i, w in enumerate(words):
                if w != base[sp][i]:
                    patch.append([sp, i, w])
        out.append({"kind": "case", "name": name, "control": ctl, "override": override,
                    "bad": list(drv.brokenPixels) + list(drv.outlierPixels), "patch": patch,
                    "subpages": [sp for _w, sp in frames], "expected": [round(v, 4) for v in want]})
    return out


def text():
    return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in lines())


def main(argv):
    path = argv[1] if len(argv) > 1 else OUT
    with open(path, "w") as f:
        f.write(text())
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main(sys.argv)
