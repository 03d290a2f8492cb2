"""The inventory stage: nn.Module -> records (records.py imports no torch; walk.py builds
them, facts.py, totals.py, memory.py, wrappers.py).
"""
