"""The per-image benchmark behind bench/classify_bench.py, one module per concern: its inputs,
timing, model builds, the per-image table, XNNPACK, colours, the PNG stages, cold start, and
the run that prints them in order."""
