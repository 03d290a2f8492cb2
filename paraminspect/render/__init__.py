"""Records and findings in, text out. The only package that imports rich (table.py)."""
