"""Workflows built from many fits: batches, backtests, audits, observational scaling (layer 6)."""
