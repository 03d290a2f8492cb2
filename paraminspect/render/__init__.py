"""Records, findings and diffs in, text out: the only package that imports rich. Which
function renders each `--format` for each command is paraminspect.formats.FORMATS:
show_table.py, json.py, text.py (csv, markdown), check_report.py (findings.py, sweep.py),
github.py, sarif.py, diff_report.py; fixes.py, progress.py, html.py (notebooks) besides.
"""
