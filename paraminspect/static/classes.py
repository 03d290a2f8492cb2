"""One class of the project, read: its ModuleClass record (how it is a Module, the
parameters of the __init__ that runs first) and its findings (flow.py, findings.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paraminspect.static.findings import class_findings
from paraminspect.static.flow import construction
from paraminspect.static.model import InitParam, ModuleClass, StaticFinding
from paraminspect.static.project import ClassRef, Project, TorchClass

Lazy = Callable[[ClassRef, str], Any]
# torch.nn classes whose __init__ takes no required argument.
_NO_ARGUMENTS = ("Module", "Sequential", "ModuleList", "ModuleDict")


def init_params(
    project: Project, cls: ClassRef, lazy_params: Callable[[ClassRef], list[dict[str, Any]] | None]
) -> tuple[tuple[InitParam, ...], str, bool]:
    """(the parameters of the __init__ that runs first, its class, whether they are known)."""
    for klass in project.mro(cls):
        if isinstance(klass, TorchClass):
            return (), klass.dotted, klass.name in _NO_ARGUMENTS
        if isinstance(klass, ClassRef):
            if "__init__" in klass.info["methods"]:
                params = klass.info.get("params")
                if params is None:
                    params = lazy_params(klass)
                if params is None:
                    return (), klass.dotted, False
                return tuple(InitParam(**p) for p in params), klass.dotted, True
        elif not klass.plain:
            return (), klass.dotted, False
    return (), "", True


def is_abstract(project: Project, cls: ClassRef) -> bool:
    """Some @abstractmethod in its MRO is not overridden before it."""
    seen: set[str] = set()
    for klass in project.mro(cls):
        if not isinstance(klass, ClassRef):
            continue
        for name in klass.info.get("abstract_methods", ()):
            if name not in seen:
                return True
        seen.update(klass.info["methods"])
    return False


def read_class(
    project: Project,
    cls: ClassRef,
    chain: tuple[str, ...],
    lazy: Lazy,
    lazy_params: Callable[[ClassRef], list[dict[str, Any]] | None],
) -> tuple[ModuleClass, list[StaticFinding]]:
    info = cls.info
    outcome = construction(project, cls, lazy)
    params, owner, known = init_params(project, cls, lazy_params)
    note = outcome.note
    if not note and outcome.final is None:
        note = "every path through its __init__ raises"
    record = ModuleClass(
        file=cls.file.path,
        line=info["line"],
        qualname=cls.qualname,
        module=cls.file.module,
        import_root=cls.file.root,
        via=chain,
        bases=tuple(text for text, _ref in info["bases"]),
        params=params,
        init_owner=owner,
        params_known=known,
        abstract=is_abstract(project, cls),
        analysed=not outcome.note,
        note=note,
    )
    return record, class_findings(cls, outcome)
