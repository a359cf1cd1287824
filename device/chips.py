"""The sensor chips' register tables, in one place for the settings check and the drivers.

MSA301: data rates and bandwidths in Hz with the register codes adafruit_msa3xx uses,
ranges in g with the 14-bit counts per g; MLX90640: refresh rates in Hz (the register
code is the index).
"""

MSA_DATA_RATES = (1.0, 1.95, 3.9, 7.81, 15.63, 31.25, 62.5, 125.0, 250.0, 500.0, 1000.0)
MSA_DATA_RATE_CODES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
MSA_BANDWIDTHS = (1.95, 3.9, 7.81, 15.63, 31.25, 62.5, 125.0, 250.0, 500.0)
MSA_BANDWIDTH_CODES = (0, 3, 4, 5, 6, 7, 8, 9, 10)
MSA_RANGES = (2, 4, 8, 16)
MSA_COUNTS_PER_G = (4096.0, 2048.0, 1024.0, 512.0)
MLX_REFRESH = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MLX_ROWS = 24
MLX_COLS = 32
