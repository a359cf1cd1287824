"""The command line speaks for itself: every subcommand (including the ones added later)
has a one-line description and an example, every option a help text and its default;
usage lines name the program as it was called; --quiet is quiet in every command;
`simulate --send` says why nothing arrived; the receiver counts duplicates once."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from conftest import DATA, ROOT, venv_tool
from host_tools.cli import main as cli
from host_tools.fleet import receiver, store
from netparts import free_port, wait_port


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    p = cli.build_parser("cpy-anomaly")
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_option_has_help_and_every_subcommand_an_example():
    cmds = _subcommands()
    assert len(cmds) >= 15
    no_help = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, sp in cmds.items()
               for a in sp._actions if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    no_example = [name for name, sp in cmds.items()
                  if "example:\n  cpy-anomaly " + name not in (sp.epilog or "").replace("%(prog)s", "cpy-anomaly " + name)]
    no_description = [name for name, sp in cmds.items() if not (sp.description or "").strip()]
    no_quiet = [name for name, sp in cmds.items() if not any("--quiet" in a.option_strings for a in sp._actions)]
    assert (no_help, no_example, no_description, no_quiet) == ([], [], [], [])


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_shows_the_program_name_defaults_and_example(name, capsys):
    assert cli.main([name, "--help"], prog="cpy-anomaly") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: cpy-anomaly {name} ")
    assert f"example:\n  cpy-anomaly {name} " in out and "%(prog)" not in out
    sp = _subcommands()[name]
    for a in sp._actions:  # an option with a real default shows it
        if a.option_strings and a.default not in (None, False, argparse.SUPPRESS) and \
                not isinstance(a, argparse._HelpAction):
            shown = cli.HelpFormatter(name)._get_help_string(a) or ""
            assert "default" in shown.lower() and " ".join(shown.split()[:3]) in " ".join(out.split()), \
                (name, a.option_strings)


def test_usage_names_the_program_as_called(tmp_path):
    r = subprocess.run([sys.executable, "-m", "host_tools", "train", "--bogus"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "see python -m host_tools train --help" in r.stderr
    exe = venv_tool("cpy-anomaly")
    if exe is None:
        pytest.skip("the cpy-anomaly console script is not installed")
    r = subprocess.run([exe, "score", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("usage: cpy-anomaly score ")
    assert "example:\n  cpy-anomaly score --model" in r.stdout


def test_quiet_is_quiet(tmp_path, capsys):
    m = str(tmp_path / "m.json")
    assert cli.main(["train", "--normal", os.path.join(DATA, "fan_0_low_0_weight"), "--out", m, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith(f"wrote {m}: ") and err == ""
    assert cli.main(["export", os.path.join(DATA, "fan_0_low_0_weight"), "--out", str(tmp_path / "ei"),
                     "--quiet"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    assert cli.main(["simulate", "--model", m, "--data", os.path.join(DATA, "fan_0_low_1_weight"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("simulated ")
    rep = str(tmp_path / "rep")
    assert cli.main(["evaluate", "--data", DATA, "--normal", "fan_0_low_0_weight", "--anomaly",
                     "fan_0_high_0_weight", "--report", rep, "--no-baselines", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith("report: ") and err == "", (out, err)
    # data commands keep their data
    assert cli.main(["score", "--model", m, os.path.join(DATA, "fan_0_low_1_weight"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") > 5 and "note:" not in err


def _sim(model, *extra):
    return subprocess.run([sys.executable, "-m", "host_tools", "simulate", "--model", model, "--data",
                           os.path.join(DATA, "fan_0_low_1_weight"), "--heartbeat", "10", "--quiet", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_simulate_send_says_why_nothing_arrived(fan_model_path, tmp_path):
    dead = free_port()
    r = _sim(fan_model_path, "--send", f"http://127.0.0.1:{dead}/ingest", "--token", "T")
    assert r.returncode == 1 and "nothing was confirmed" in r.stderr and "connection refused" in r.stderr, r.stderr
    db = str(tmp_path / "s.db")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "receive", "--db", db, "--http",
                             f"127.0.0.1:{port}", "--token", "T"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_port(port, 30)
        url = f"http://127.0.0.1:{port}/ingest"
        r = _sim(fan_model_path, "--send", url, "--token", "wrong")
        assert r.returncode == 1 and "HTTP 401: wrong or missing token" in r.stderr, r.stderr
        r = _sim(fan_model_path, "--send", url, "--token", "T", "--device", "bench-2", "--seq-start", "1")
        assert r.returncode == 0 and "sent " in r.stderr, r.stderr
        r = _sim(fan_model_path, "--send", url, "--token", "T", "--device", "bench-2", "--seq-start", "1")
        assert r.returncode == 0, r.stderr
        r = _sim(fan_model_path, "--send", url, "--token", "T", "--device", "bench-2")  # new seqs: new data
        assert r.returncode == 0, r.stderr
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    st = store.open_store(db)
    try:
        devs = {d["device"]: d["n"] for d in st.devices()}
    finally:
        st.close()
    assert list(devs) == ["bench-2"] and devs["bench-2"] > 10  # each run a new boot: new data


def test_receiver_tells_duplicates_from_conflicts(tmp_path):
    from device import payloads

    logged = []
    rx = receiver.Receiver(store.open_store(str(tmp_path / "c.db")), log=logged.append)
    for seq in (1, 2, 3):
        p = payloads.heartbeat("normal", seq, 0, 1, score=0.2, mode="low", anomaly=False)
        p.update(device="d1", seq=seq, t=seq * 1.0)
        assert rx.ingest(p, "http") == "stored"
        assert rx.ingest(dict(p), "http") == "duplicate"  # the same again
        p2 = dict(p, t=p["t"] + 100)  # another payload under the same number
        assert rx.ingest(p2, "http") == "conflict"
    assert sum("# duplicate: d1 " in x for x in logged) == 1
    assert sum("# conflict: d1 " in x for x in logged) == 1
    lines = rx.summary_lines()
    assert any("duplicates this run: 3 (d1 3)" in x for x in lines)
    assert any("conflicts this run: 3 (d1 3)" in x for x in lines)
    rx.store.close()
