"""The forward pass: check --run's observer (PI1xx), example inputs, and forward_stats
(output shapes, FLOPs and activation memory of one pass on meta; plain data in stats_data.py)."""
