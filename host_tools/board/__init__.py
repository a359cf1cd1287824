"""The board from the PC: its CIRCUITPY drive or serial REPL, and push, deploy, doctor (connection);
recordings from its console or over HTTP (collect); its status lines (monitor)."""
