"""scaled_dot_product_attention on meta, run with the kernel a CPU run would pick.

On meta tensors torch always takes SDPA's math path: two matmuls around a softmax whose
(batch, heads, queries, keys) weights autograd saves for backward: 4 GiB a layer for a 70B
decoder at 4096 tokens, which no fused kernel keeps. A CPU run picks its flash kernel whenever
the inputs allow it (torch's own `_fused_sdp_choice`, asked here with stand-in CPU tensors of
the same sizes that hold one row of memory each), and that kernel keeps only the inputs, the
output and the log-sum-exp. This mode makes the meta pass take the same decision and call the
same kernel (its meta implementation), so the saved tensors are what a CPU run would keep.

FLOPs do not change: FlopCounterMode counts the math path's two matmuls, and the flash kernel
is counted with torch's own SDPA formula (`sdpa_flop_count`, the count of those two matmuls),
registered for the CPU kernel, which FlopCounterMode itself has no formula for (it counts a
real CPU run's attention as 0)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils import flop_counter

_SDPA = F.scaled_dot_product_attention
_FLASH_CPU = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
_CHOICE = getattr(torch, "_fused_sdp_choice", None)
_SDPA_FLOPS = getattr(flop_counter, "sdpa_flop_count", None)
try:
    _FLASH = int(torch.nn.attention.SDPBackend.FLASH_ATTENTION)
except (AttributeError, TypeError):
    _FLASH = None


def flop_formulas() -> dict[Any, Any]:
    """FlopCounterMode custom_mapping entries for the CPU flash kernel (shapes in, FLOPs out)."""
    if _FLASH_CPU is None or _SDPA_FLOPS is None:
        return {}

    def flash_cpu_flops(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return _SDPA_FLOPS(query, key, value)

    return {_FLASH_CPU: flash_cpu_flops}


def _probe(t: torch.Tensor) -> torch.Tensor:
    """A CPU tensor with `t`'s sizes, dtype and requires_grad holding one row (stride 0 elsewhere)."""
    row = torch.empty(t.shape[-1] if t.dim() else 1, dtype=t.dtype, device="cpu")
    probe = row.expand(t.shape) if t.dim() else row[0]
    return probe.requires_grad_() if t.requires_grad and t.is_floating_point() and probe.is_leaf else probe


def _flash_on_cpu(
    query: Any, key: Any, value: Any, attn_mask: Any, dropout_p: float, is_causal: bool, scale: Any, gqa: bool
) -> bool:
    if _CHOICE is None or _FLASH is None:
        return False
    tensors = (query, key, value) if attn_mask is None else (query, key, value, attn_mask)
    if not all(isinstance(t, torch.Tensor) and t.layout == torch.strided for t in tensors):
        return False
    fake = [_is_fake(t) for t in tensors]
    if not (all(t.is_meta for t in tensors) or all(fake)):
        return False
    # fake tensors: the probes are real CPU tensors, made with FakeTensorMode set aside
    with _real_tensors() if any(fake) else nullcontext():
        try:
            mask = _probe(attn_mask) if attn_mask is not None else None
            choice = _CHOICE(
                _probe(query), _probe(key), _probe(value), mask, dropout_p, is_causal, scale=scale, enable_gqa=gqa
            )
        except Exception:
            return False
    return int(choice) == _FLASH


def _is_fake(t: torch.Tensor) -> bool:
    return type(t).__name__ == "FakeTensor"


def _real_tensors() -> AbstractContextManager[Any]:
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    return unset_fake_temporarily()


class CpuAttentionChoice(TorchFunctionMode):
    """While active, SDPA calls on meta or fake tensors run the kernel a CPU run would."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is _SDPA and _FLASH_CPU is not None:
            out = _routed(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)


def _routed(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: Any = None,
    enable_gqa: bool = False,
) -> torch.Tensor | None:
    if not _flash_on_cpu(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
        return None
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        # torch turns a boolean mask into an additive one of the query's dtype first
        attn_mask = torch.zeros(attn_mask.shape, dtype=query.dtype, device=attn_mask.device)
    assert _FLASH_CPU is not None
    output, _logsumexp = _FLASH_CPU(query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)
    return output
