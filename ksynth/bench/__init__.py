"""KT benchmark: official metrics (metrics.py); datasets, harness and reports build on it."""
