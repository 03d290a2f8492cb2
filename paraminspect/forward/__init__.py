"""The forward pass: `check --run`'s observer (observer.py, tracing.py), example inputs
(examples.py), seeded runs (seeded.py), the PI1xx pass over one model (check_run.py), and
forward_stats (stats.py: output shapes, FLOPs and activation memory of one pass on meta;
plain data in stats_data.py).
"""
