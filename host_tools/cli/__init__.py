"""The `cpy-anomaly` / `python -m host_tools` command line: main (the parser; train, commission,
score, export, evaluate, simulate, bench, drift-bench), workflow (collect, push, deploy, doctor,
monitor) and telemetry (receive, events)."""
