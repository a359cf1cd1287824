"""Host tools (CPython + NumPy): train, commission, score, evaluate and simulate models
for the board, using the board's own device/ modules for every feature and score."""
