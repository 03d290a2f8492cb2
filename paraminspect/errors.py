"""Errors that the CLI turns into one line on stderr and exit code 2."""

from __future__ import annotations


class ParamInspectError(Exception):
    """A problem with the user's input: shown as one line, never as a traceback."""


class UsageError(ParamInspectError):
    """A bad option value, rule code or config entry."""


class LoadError(ParamInspectError):
    """The MODEL spec could not be turned into an nn.Module (or a checkpoint)."""


class NetworkBlockedError(RuntimeError):
    """Raised inside a factory that tries to open a network connection while we build it."""


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) reached the CLI while user code ran: the children were ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


LINE_LIMIT = 1000  # characters of an exception's message kept in its one line


def first_sentence(text: str) -> str:
    """The first line of an error message, cut after its first sentence when long (torch's
    dispatcher errors run on for a screenful)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if len(line) > 160 and ". " in line:
        line = line.split(". ", 1)[0]
    return line


def exception_line(exc: BaseException) -> str:
    """An exception as one line, `TypeError: first sentence` (what every message that names an
    exception from user code, a library or paraminspect itself says about it)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit (it called sys.exit({exc.code!r}))"
    text = first_sentence(str(exc))
    if len(text) > LINE_LIMIT:
        text = f"{text[:LINE_LIMIT]}... ({len(text):,} characters)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
