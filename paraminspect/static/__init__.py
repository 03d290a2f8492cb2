"""The static pass of `check PATH`: every nn.Module class of a project and the PI001-PI004
findings that are certain from the source alone, without importing torch or the user's
files (the stdlib `ast`; library base classes are read from their files, never imported).

    report = scan(["src/"], root=".", cache_dir=".paraminspect_cache")
    report.classes    # ModuleClass: file, line, qualname, module, how it is a Module, __init__ params
    report.findings   # StaticFinding: code, severity, file, line, col, cls, attribute, message, fix
    find_arguments(report, root=".")  # class -> ArgSource: a snippet that builds it, and where from

Plain data in and out (model.py, args/model.py): the CLI renders it, the child runner
executes the snippets.
"""

from __future__ import annotations

from paraminspect.static.model import (
    STATIC,
    FileFailure,
    InitParam,
    ModuleClass,
    StaticFinding,
    StaticReport,
    Unresolved,
)
from paraminspect.static.pipeline import scan

__all__ = [
    "STATIC",
    "FileFailure",
    "InitParam",
    "ModuleClass",
    "StaticFinding",
    "StaticReport",
    "Unresolved",
    "scan",
]
