"""Benchmarks of the GIF bot: `python -m bench` (recipe, throughput, latency, memory; see README,
"Performance") and `python -m bench.burst` (one burst through 1, 2, 3 workers)."""
