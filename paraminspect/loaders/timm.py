"""timm names: exact, `timm:`-prefixed, with a pretrained tag, or partial (a documented pick)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from paraminspect.errors import LoadError
from paraminspect.forms import TIMM_PREFIX
from paraminspect.loaders.build import build_on
from paraminspect.loaders.loaded import LoadedModel, LoadRequest


@dataclass(frozen=True)
class TimmResolution:
    name: str
    matched: int  # how many registered names the query matched (1 for an exact name)
    tag: str | None


def _rank_partial(query: str, candidates: list[str], tag_counts: dict[str, int]) -> list[str]:
    """The documented pick for a partial name: fewest `_`-separated words beyond the
    query, then most pretrained weight tags in timm's registry (the popular variant), then
    the shortest name, then alphabetical. `vit_base` -> vit_base_patch16_224."""

    def extra_words(name: str) -> int:
        rest = name[len(query) :] if name.startswith(query) else name
        return len([w for w in rest.split("_") if w])

    return sorted(candidates, key=lambda n: (extra_words(n), -tag_counts.get(n, 0), len(n), n))


def resolve_timm_name(query: str) -> TimmResolution:
    """Exact name (tag ignored), else the documented pick among prefix matches, then among
    substring matches; nothing matched raises LoadError with up to 5 close names."""
    import timm

    base, _, tag = query.strip().partition(".")
    if not base:  # `timm:` or `timm:.tag`: every name would match, and the pick means nothing
        raise LoadError(f"empty timm model name in {query!r}: give one, e.g. timm:resnet50")
    if timm.is_model(base):  # a dict lookup: a sweep resolves exact names, 75 of them and more
        return TimmResolution(base, 1, tag or None)
    names = timm.list_models()
    tag_counts: dict[str, int] = {}
    for pretrained in timm.list_pretrained():
        arch = pretrained.partition(".")[0]
        tag_counts[arch] = tag_counts.get(arch, 0) + 1
    for matches in ([n for n in names if n.startswith(base)], [n for n in names if base in n]):
        if matches:
            best = _rank_partial(base, matches, tag_counts)[0]
            return TimmResolution(best, len(matches), tag or None)
    from paraminspect.loaders.hints import torchvision_builder

    close = close_names(base, names, tag_counts)
    elsewhere = torchvision_builder(base)
    hint = f"; did you mean {elsewhere} (a torchvision builder)?" if elsewhere else ""
    if close:
        hint += f" (close timm names: {', '.join(close)})" if elsewhere else f"; did you mean: {', '.join(close)}?"
    elif not elsewhere:
        hint = "; `timm:NAME` names a timm model, `pkg.mod:attr` or `file.py:attr` a factory"
    raise LoadError(f"no timm model matches {query!r}{hint}")


def close_names(base: str, names: list[str], tag_counts: dict[str, int], n: int = 5) -> list[str]:
    """Up to `n` names close to a query that matched nothing. A typo is compared with the
    names' leading words as well as with whole names (`vit_bse` is close to `vit_base`, the
    first two words of vit_base_patch16_224, though far from any whole name); each close
    prefix contributes its best-ranked names (the partial-name pick first)."""
    words = len([w for w in base.split("_") if w]) or 1
    by_prefix: dict[str, list[str]] = {}
    for name in names:
        by_prefix.setdefault("_".join(name.split("_")[:words]), []).append(name)
    out: list[str] = []
    for prefix in difflib.get_close_matches(base, list(by_prefix), n=3, cutoff=0.75):
        out.extend(_rank_partial(prefix, by_prefix[prefix], tag_counts)[:3])
    out.extend(difflib.get_close_matches(base, names, n=n, cutoff=0.6))
    return list(dict.fromkeys(out))[:n]


def load_timm(request: LoadRequest) -> LoadedModel:
    spec, kwargs, device = request.spec, request.kwargs, request.device
    from paraminspect.forms import parse_spec

    query = parse_spec(spec).name  # `timm:NAME`, `hf-hub:timm/NAME`: NAME
    resolution = resolve_timm_name(query)
    notes = []
    if resolution.matched > 1:
        notes.append(f"{query!r} matched {resolution.matched} timm models; using {resolution.name}")
    import timm

    def build() -> Any:
        return timm.create_model(resolution.name, pretrained=False, **kwargs)

    failures: list[Any] = []
    module, built_on = build_on(f"timm model {resolution.name}", build, device, notes, meta_failures=failures)
    resolved = f"{TIMM_PREFIX}{resolution.name}"
    return LoadedModel(spec, resolved, module, built_on, "timm", notes, meta_failure=failures[0] if failures else None)


def expand_glob(spec: str) -> list[str]:
    """`timm:vit_*` (or a bare `vit_*`) -> one `timm:NAME` spec per matching registered
    model, in timm's order. A pattern with a `.` matches pretrained tags too
    (`timm:vit_*.augreg*`). A pattern that matches nothing is a UsageError."""
    import fnmatch

    import timm

    from paraminspect.errors import UsageError

    pattern = spec.removeprefix(TIMM_PREFIX)
    names = timm.list_pretrained() if "." in pattern else timm.list_models()
    matches = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if not matches:
        raise UsageError(f"no timm model matches {spec!r}")
    return [f"{TIMM_PREFIX}{name}" for name in matches]
