"""Models from recordings and their measurement: training (train, thermal_train), evaluation across
sessions against baselines (evaluate, baselines) and its report (report, thermal_report), the board app
replayed on a PC (simulate), and the benches (bench, driftbench)."""
