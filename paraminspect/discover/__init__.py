"""`paraminspect check PATH`: the nn.Module classes a folder or file defines, as MODEL specs.

files.py picks the files without importing anything (exclude globs, default skips, a source
pre-filter); classes.py imports them (the caller runs it in a child process) and lists the
classes defined there (plain data out: found.py); paths.py joins both into check targets.
"""
