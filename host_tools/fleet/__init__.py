"""What boards send, received and shown: the HTTP/MQTT/LoRa receiver (receiver), SQLite or PostgreSQL
storage (store), alert routes (routes), the dashboard (dashboard), the ingest bench (telemetry_bench), and
the board's own transports on a PC (hostnet: `simulate --send`, the bench, the loopback tests)."""
