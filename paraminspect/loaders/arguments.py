"""`-a NAME=VALUE` that the model does not take: the TypeError Python raises names the
callable and the argument; the callable is found in the frames that called it (the factory's
`target`, timm's `model_cls`), and its own parameters give the close names to suggest."""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any

_UNEXPECTED = re.compile(r"([\w.<>]+)\(\) got an unexpected keyword argument '(\w+)'")


def unexpected_argument_hint(exc: BaseException) -> str:
    """`; did you mean hidden? (MLP takes in_dim, hidden, out_dim)` for a TypeError about
    an unexpected keyword argument; "" for anything else or when the callable is not found."""
    if not isinstance(exc, TypeError):
        return ""
    match = _UNEXPECTED.search(str(exc))
    if match is None:
        return ""
    qualname, name = match.groups()
    target = _find_callable(exc, qualname.removesuffix(".__init__"))
    if target is None:
        return ""
    try:
        params = [
            p.name
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        ]
    except (TypeError, ValueError):
        return ""
    close = difflib.get_close_matches(name, params, n=3, cutoff=0.6)
    shown = getattr(target, "__qualname__", qualname)
    takes = f" ({shown} takes {', '.join(params)})" if params and len(params) <= 12 else ""
    if close:
        return f"; did you mean -a {close[0]}=...?{takes}"
    return f"; {shown} takes no argument {name!r}{takes}"


def _find_callable(exc: BaseException, qualname: str) -> Any:
    """The function or class named `qualname` among the locals of the frames the error
    passed through, innermost first (where the call was made)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            if callable(value) and getattr(value, "__qualname__", None) == qualname:
                return value
    return None
