"""Building a model: on meta by default (initialisers skipped), on CPU when meta fails,
always behind the network guard."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def build_on(
    what: str,
    build: Callable[[], Any],
    device: str | None,
    notes: list[str],
    weight_arguments: Sequence[str] | None = None,
) -> tuple[Any, str]:
    """Run `build` on `device`, or on meta with a CPU fallback when no device is forced.
    `weight_arguments` (`encoder_weights=None`) are what a network error advises."""
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
    try:
        module = _call_on("cpu", build)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise _build_error(what, exc, weight_arguments) from exc
    notes.append(f"{what} cannot be built on the meta device ({reason}); built on CPU instead")
    return module, "cpu"


def _build_error(what: str, exc: BaseException, weight_arguments: Sequence[str] | None) -> LoadError:
    if network_attempt():
        return LoadError(_network_message(what, weight_arguments))
    return LoadError(f"{what} raised {exception_line(exc)}")
