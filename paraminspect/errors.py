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
