"""Reading recordings: CSV and Edge Impulse files (readers), time stamps and rates (timeaxis),
sessions cut into windows and features (datasets), thermal frame files (thermal_data), the simulated
boiler scene (scene) and the option types for rates, periods and fractions (argtypes)."""
