"""Building a model: on meta by default (initialisers skipped), on CPU when meta fails,
always behind the network guard."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from paraminspect.errors import LoadError, UsageError, exception_line
from paraminspect.loaders.guard import network_attempt, no_network

BUILD_DEVICES_HELP = "meta, cpu, cuda or cuda:N"


def check_device(device: str) -> str:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown --device {device!r}: use {BUILD_DEVICES_HELP}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LoadError(f"--device {device}: CUDA is not available on this machine")
    if dev.type not in ("meta", "cpu", "cuda"):
        raise UsageError(f"unknown --device {device!r}: use {BUILD_DEVICES_HELP}")
    return str(dev)


def _network_message(what: str, weight_arguments: Sequence[str] | None) -> str:
    start = f"{what} tried to download weights ({network_attempt()}); paraminspect never downloads: "
    if weight_arguments is None:  # a builder whose signature paraminspect did not read
        return start + "pass -a pretrained=False, -a weights=None or -a weights_backbone=None"
    if not weight_arguments:
        return start + (
            "none of its parameters looks like a weight source; build the model without weights in a "
            "factory of your own and point MODEL at it"
        )
    return start + "pass " + " or ".join(f"-a {a}" for a in weight_arguments)


def _call_on(device: str, build: Callable[[], Any]) -> Any:
    import torch

    from paraminspect.loaders.fastmeta import meta_device_without_init
    from paraminspect.tensors.sites import recording_sites

    # On meta, initialisers are no-ops (values are meaningless there, and some import torch._dynamo).
    on_device = meta_device_without_init() if torch.device(device).type == "meta" else torch.device(device)
    with no_network(), on_device, recording_sites():  # recording_sites: the line of each assignment
        return build()


@dataclass(frozen=True)
class MetaFailure:
    """Why a build on meta failed, for PI012 (checks/meta_init.py): the exception's line and
    the innermost frame of model code (not torch's, paraminspect's or the standard library's:
    a library model's own file counts, as timm's does), with that line's source."""

    reason: str
    file: str | None = None
    line: int | None = None
    code: str = ""


def _is_model_code(path: str, libraries: tuple[str, ...], stdlib: tuple[str, ...]) -> bool:
    """Whether a frame's file is model code: not in torch or paraminspect (`libraries`), nor
    in the standard library unless in a site-packages folder below it (a system Python)."""
    path = os.path.realpath(path)
    if any(path.startswith(root + os.sep) for root in libraries):
        return False
    for root in stdlib:
        if path.startswith(root + os.sep):
            parts = path[len(root) :].split(os.sep)
            return "site-packages" in parts or "dist-packages" in parts
    return True


def meta_failure(exc: BaseException) -> MetaFailure:
    """`exc` (raised while building on meta) with the frame of model code that raised it."""
    import sysconfig
    import traceback

    import torch

    import paraminspect
    from paraminspect.errors import exception_line

    libraries = tuple(os.path.realpath(os.path.dirname(m.__file__ or "")) for m in (torch, paraminspect))
    stdlib = tuple({os.path.realpath(p) for p in (sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")) if p})
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.startswith("<frozen") and _is_model_code(frame.filename, libraries, stdlib):
            return MetaFailure(exception_line(exc), frame.filename, frame.lineno, (frame.line or "").strip())
    return MetaFailure(exception_line(exc))


def build_on(
    what: str,
    build: Callable[[], Any],
    device: str | None,
    notes: list[str],
    weight_arguments: Sequence[str] | None = None,
    meta_failures: list[MetaFailure] | None = None,
) -> tuple[Any, str]:
    """Run `build` on `device`, or on meta with a CPU fallback when no device is forced
    (`meta_failures` gets why meta failed). `weight_arguments` (`encoder_weights=None`) are
    what a network error advises."""
    if device is not None:
        try:
            return _call_on(device, build), device
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise _build_error(what, exc, weight_arguments) from exc
    try:
        return _call_on("meta", build), "meta"
    except KeyboardInterrupt:
        raise
    except BaseException as meta_exc:
        if network_attempt():
            raise LoadError(_network_message(what, weight_arguments)) from meta_exc
        reason = exception_line(meta_exc)
        failure = meta_failure(meta_exc)
    try:
        module = _call_on("cpu", build)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise _build_error(what, exc, weight_arguments) from exc
    notes.append(f"{what} cannot be built on the meta device ({reason}); built on CPU instead")
    if meta_failures is not None:
        meta_failures.append(failure)
    return module, "cpu"


def _build_error(what: str, exc: BaseException, weight_arguments: Sequence[str] | None) -> LoadError:
    if network_attempt():
        return LoadError(_network_message(what, weight_arguments))
    from paraminspect.loaders.arguments import unexpected_argument_hint

    return LoadError(f"{what} raised {exception_line(exc)}{unexpected_argument_hint(exc)}")
