"""What boards send, received and shown: the HTTP/MQTT/LoRa receiver (receiver), SQLite or PostgreSQL
storage (store), alert routes (routes), the dashboard (dashboard) and the ingest bench (telemetry_bench)."""
