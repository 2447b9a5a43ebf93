"""Metrics (SPEC §11): workers emit events to the `stats` exchange; the stats process serves them to Prometheus."""
