"""The forward pass: `check --run`'s observer (observer.py, tracing.py), example inputs
(examples.py), seeded runs (seeded.py) and the PI1xx pass over one model (check_run.py).
"""
