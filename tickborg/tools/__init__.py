"""Operator tools: check-config, topology, dead-letters."""
