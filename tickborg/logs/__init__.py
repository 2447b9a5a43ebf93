"""Build logs: the log-message-collector stores them, logapi serves them (SPEC §10)."""
