"""The inventory stage: nn.Module -> records (records.py imports no torch)."""
