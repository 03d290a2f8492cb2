"""Runs the static rules over a built model's inventory: `allow` globs, file:line of each
finding, one finding per module registered under several names; then checks.finalise
(select/ignore, noqa, severity, order), as for every other pass. No printing, no torch import."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paraminspect.checks import CheckContext, Finding
from paraminspect.checks.finalise import ALL, enabled_rules, finalise, name_allowed, parse_codes
from paraminspect.sources import (
    SourceLocation,
    find_assignment,
    is_library_class,
    is_library_file,
    is_torch_class,
    user_location,
)

__all__ = ["ALL", "StaticContext", "enabled_rules", "locate", "name_allowed", "parse_codes", "run_static_checks"]


@dataclass(frozen=True)
class StaticContext(CheckContext):
    """CheckContext plus how paraminspect built the model (None through the Python API), why
    the build on meta failed when it fell back to CPU (loaders.build.MetaFailure, for PI012), and
    the notes rules leave (PI013 says when it skipped its probe)."""

    build_device: str | None = None
    meta_failure: Any = None
    notes: list[str] = field(default_factory=list)


def _without_allowed(inventory: Any, allow: Sequence[str]) -> Any:
    """The inventory minus tensors and references whose name matches an `allow` glob."""
    if not allow:
        return inventory
    tensors = tuple(r for r in inventory.tensors if not any(name_allowed(n, allow) for n in (r.name, *r.aliases)))
    references = tuple(
        ref for ref in inventory.references if not (name_allowed(ref.name, allow) or name_allowed(ref.path, allow))
    )
    return dataclasses.replace(inventory, tensors=tensors, references=references)


def locate(inventory: Any, module: str, attribute: str, parents_first: bool = False) -> SourceLocation | None:
    """file:line of the assignment that created `module.attribute`: the statement the build
    ran when it was recorded, else read from the source: in the owning module's class, or as
    a chain in an ancestor's class (`self.head.scale = ...` in the parent).
    `parents_first` prefers the ancestors (ties like `self.lm_head.weight = ...`, where the
    owner's own class assigns the attribute too)."""
    if not attribute:
        return None
    ran = getattr(inventory, "assignment_sites", {}).get(module, {}).get(attribute)
    if ran is not None:  # the statement the build ran (paraminspect.tensors.sites)
        return SourceLocation(*ran)
    classes = inventory.module_classes
    parts = module.split(".") if module else []
    candidates: list[tuple[str, tuple[str, ...]]] = []
    for i in range(len(parts) - 1, -1, -1):
        tail = parts[i:]
        if any("[" in p for p in tail):  # no attribute chain through a container index
            break
        candidates.append((".".join(parts[:i]), (*tail, attribute)))
    own = (module, (attribute,))
    candidates = [*candidates, own] if parents_first else [own, *candidates]
    found = None
    for path, chain in candidates:
        cls = classes.get(path)
        if cls is not None:
            found = find_assignment(cls, chain)
            if found is not None:
                break
    owner = classes.get(module)
    if found is not None and not is_library_file(found.file):
        return found
    if found is None and (owner is None or is_torch_class(owner) or not is_library_class(owner)):
        return None  # torch's own classes write nothing on a user's behalf: no line to guess
    # written by framework code (a property setter, a base class, torchvision's Normalize keeping
    # the user's tensor): the user's line that made it happen, where there is one
    return _user_line(classes, module, attribute) or found


def _user_line(classes: dict[str, type], module: str, attribute: str) -> SourceLocation | None:
    """The line in the user's code behind `module.attribute`: through the owner's property
    setters and base classes, else the assignment of the nearest user-written ancestor that
    created the module (`self.norm = Normalize(mean, std)`)."""
    owner = classes.get(module)
    if owner is not None:
        location = user_location(owner, attribute)
        if location is not None:
            return location
    parts = module.split(".") if module else []
    for i in range(len(parts) - 1, -1, -1):
        parent = classes.get(".".join(parts[:i]))
        child = parts[i].split("[", 1)[0]  # `blocks[0]`: the attribute holding the container
        if parent is None or not child:
            continue
        location = find_assignment(parent, child, user_only=True) or user_location(parent, child)
        if location is not None:
            return location
    return None


def _with_module_aliases(finding: Finding, aliases: tuple[str, ...]) -> Finding:
    """One finding for a module registered under several names (`self.b = self.a`), naming
    the attribute under each of them."""
    prefix = finding.module + "."
    names = list(finding.names)
    for alias in aliases:
        names += [alias + "." + n[len(prefix) :] for n in finding.names if n.startswith(prefix)]
    also = ", ".join(f"`{a}`" for a in aliases)
    return dataclasses.replace(
        finding,
        names=tuple(dict.fromkeys(names)),
        message=f"{finding.message} (the same module is also registered as {also})",
    )


def run_static_checks(
    ctx: CheckContext,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    allow: Sequence[str] | None = None,
    suppressed: list[Finding] | None = None,
) -> list[Finding]:
    """Findings of every enabled rule that has a check function, each with the model spec
    and file:line where known, minus `# noqa`-suppressed ones (appended to `suppressed` when
    given), sorted by code, then module (in model order), then attribute."""
    select = parse_codes(select, "select")
    ignore = parse_codes(ignore, "ignore")
    inventory = _without_allowed(ctx.inventory, list(allow or []))
    if inventory is not ctx.inventory:
        ctx = dataclasses.replace(ctx, inventory=inventory)
    order = {m.path: i for i, m in enumerate(inventory.modules)}
    shared = {m.path: m.aliases for m in inventory.modules if m.aliases}
    found: list[Finding] = []
    for rule in enabled_rules(select, ignore):
        if rule.check is None:
            continue
        for finding in rule.check(ctx):
            location = None
            if finding.file is not None and finding.line is not None:
                location = SourceLocation(finding.file, finding.line)
            else:
                location = locate(inventory, finding.module, finding.attribute)
            if finding.module in shared and finding.attribute and finding.code != "PI008":
                finding = _with_module_aliases(finding, shared[finding.module])
            found.append(
                dataclasses.replace(
                    finding, file=location.file if location else None, line=location.line if location else None
                )
            )
    return finalise(
        found,
        spec=ctx.spec,
        select=select,
        ignore=ignore,
        allow=allow,
        suppressed=suppressed,
        sort_key=lambda f: (f.code, order.get(f.module, len(order)), f.module, f.attribute),
    )
