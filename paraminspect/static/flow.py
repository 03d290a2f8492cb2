"""The construction path of one class, followed on its events: `__init__` (its own or the
first one in MRO order), `super().__init__` and explicit `Base.__init__(self)` calls, and the
methods they call on self, transitively (a subclass's override wins, as at run time).

The state is, for every attribute, the assignments that may be the last one run when the
constructor returns (a set, because of if/else, loops, try and early returns), each with the
value it assigned. An event that may register names we cannot see (`setattr(self, name, v)`
with a computed name, `self` handed to a helper, a base class that cannot be read) forgets
every assignment made before it: what comes after it is still read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paraminspect.static import values as V
from paraminspect.static.extract import all_events, may_find
from paraminspect.static.project import ClassRef, FileEntry, Opaque, Project, TorchClass
from paraminspect.static.torchnames import PLAIN_BASES
from paraminspect.static.values import U, Value

Site = tuple[str, int, int, str, str, bool]  # file, line, col, owner class, how, in a scanned file
State = dict[str, dict[Site, Value]]
MAX_FRAMES = 40
_REG_SITE: Site = ("", 0, 0, "", "reg", False)


@dataclass
class Outcome:
    """What the construction path of a class leaves: the last possible assignments of each
    attribute, and what was registered on the way."""

    final: State | None  # None: every path raises
    order: dict[Site, int]
    registered: set[str] = field(default_factory=set)  # names registered on the path or anywhere in the classes
    kept_ids: set[str] = field(default_factory=set)  # objects registered somewhere (or handed to code that may)
    buffer_ids: dict[str, str] = field(default_factory=dict)  # tensor id -> buffer name
    escaped: set[str] = field(default_factory=set)  # attributes whose value was handed to a call
    note: str = ""  # why nothing is reported for this class ("" when it was read)
    moves_own: bool = False  # the class moves its own tensors in .to() (it overrides _apply)
    torch_names: bool = False  # a torch.nn base (Linear, BatchNorm2d...) registers names of its own
    not_plain: set[str] = field(default_factory=set)  # names that are properties or methods


def _merge(states: list[State | None]) -> State | None:
    """The states of several paths joined. Inner dicts are never changed in place, so an
    attribute that no path touched is the same object in each state and is kept as it is."""
    live = [s for s in states if s is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0]
    out: State = dict(live[0])
    for state in live[1:]:
        for attr, sites in state.items():
            mine = out.get(attr)
            if mine is sites:
                continue
            if mine is None:
                out[attr] = sites
                continue
            joined = dict(mine)
            for site, value in sites.items():
                joined[site] = value if site not in joined else V.either([joined[site], value])
            out[attr] = joined
    return out


def _copy(state: State) -> State:
    return dict(state)  # inner dicts are replaced, never changed: a shallow copy is enough


def _qualify(value: Value, tag: str, depth: int = 0) -> Value:
    """Make a value's object ids unique across files (`line:col@module`)."""
    k = value[0]
    if depth > V.MAX_DEPTH:
        return value
    if k in ("T",) and value[2] and "@" not in value[2]:
        return ("T", value[1], f"{value[2]}@{tag}")
    if k in ("P", "BUF", "M") and value[1] and "@" not in value[1]:
        return (k, f"{value[1]}@{tag}")
    if k == "L":
        ident = value[3] if "@" in value[3] else f"{value[3]}@{tag}"
        return ("L", value[1], [[_qualify(e[0], tag, depth + 1), e[1], e[2]] for e in value[2]], ident)
    if k == "OR":
        return ("OR", [_qualify(v, tag, depth + 1) for v in value[1]])
    return value


def ids_in(value: Value, depth: int = 0) -> list[str]:
    k = value[0]
    if depth > V.MAX_DEPTH:
        return []
    if k == "T":
        return [value[2]]
    if k in ("P", "BUF", "M"):
        return [value[1]]
    if k == "L":
        return [value[3], *(i for e in value[2] for i in ids_in(e[0], depth + 1))]
    if k == "OR":
        return [i for v in value[1] for i in ids_in(v, depth + 1)]
    return []


def _self_reads(value: Value, depth: int = 0) -> list[str]:
    k = value[0]
    if depth > V.MAX_DEPTH:
        return []
    if k == "S":
        return [value[1]]
    if k == "D":
        return _self_reads(value[2], depth + 1)
    if k in ("OP", "OR"):
        return [a for v in value[1] for a in _self_reads(v, depth + 1)]
    if k == "L":
        return [a for e in value[2] for a in _self_reads(e[0], depth + 1)]
    return []


@dataclass
class _Frame:
    index: int  # the class's place in the MRO (super() continues after it)
    entry: FileEntry
    owner: str
    returns: list[State | None]


class _Run:
    def __init__(self, project: Project, cls: ClassRef, lazy: Callable[[ClassRef, str], list[Any] | None]) -> None:
        self.project = project
        self.mro = project.mro(cls)
        self.lazy = lazy
        self.out = Outcome(final=None, order={})
        self.stack: list[tuple[str, str]] = []

    # --- values --------------------------------------------------------------------------

    def value(self, raw: Value, state: State, frame: _Frame) -> Value:
        def read(attr: str) -> Value:
            sites = state.get(attr)
            if not sites:
                return U
            return V.either([v[2] if v[0] == "R" else v for v in sites.values()])

        def call(ref: str, ident: str) -> Value:
            target = self.project.resolve(frame.entry, ref)
            if isinstance(target, TorchClass):
                return ("M", ident)
            if isinstance(target, ClassRef) and isinstance(self.project.module_chain(target), tuple):
                return ("M", ident)
            return U

        return _qualify(V.resolve(raw, read, call), frame.entry.module)

    # --- events --------------------------------------------------------------------------

    def block(self, events: list[Any], state: State | None, frame: _Frame) -> State | None:
        for ev in events:
            if state is None:
                return None
            state = getattr(self, "ev_" + ev[0])(ev, state, frame)
        return state

    def ev_w(self, ev: list[Any], state: State, frame: _Frame) -> State:
        _tag, attr, raw, line, col, how = ev
        value = self.value(raw, state, frame)
        if value[0] in ("P", "M", "BUF"):
            self.out.registered.add(attr)
            self.out.kept_ids.add(value[1])
        site: Site = (frame.entry.path, line, col, frame.owner, how, frame.entry.scanned)
        self.out.order.setdefault(site, len(self.out.order))
        state[attr] = {site: value}
        return state

    def ev_aug(self, ev: list[Any], state: State, frame: _Frame) -> State:
        return state  # `self.x += 1` keeps the object (a tensor stays what it was)

    def ev_reg(self, ev: list[Any], state: State, frame: _Frame) -> State:
        _tag, attr, kind, raw, _line = ev
        value = self.value(raw, state, frame)
        self.out.registered.add(attr)
        self.out.kept_ids.update(ids_in(value))
        if kind == "buffer" and value[0] == "T" and value[2]:
            self.out.buffer_ids[value[2]] = attr
        state[attr] = {_REG_SITE: ("R", kind, value)}
        return state

    def ev_mut(self, ev: list[Any], state: State, frame: _Frame) -> State:
        _tag, attr, op, raw, _line, many = ev
        sites = state.get(attr)
        if not sites:
            return state
        changed = dict(sites)
        if op == "grad":
            for site, current in sites.items():
                if current[0] == "T":
                    changed[site] = ("T", raw, current[2])
            state[attr] = changed
            return state
        value = self.value(raw, state, frame)
        for site, current in sites.items():
            if current[0] != "L":
                continue
            elems = list(current[2])
            if op == "extend":
                added = [[e[0], None, True] for e in value[2]] if value[0] == "L" else [[U, None, True]]
            else:
                keyed = op == "append" and not many and all(not e[2] for e in elems)
                added = [[value, str(len(elems)) if keyed else None, not keyed]]
            changed[site] = ("L", current[1], elems + added, current[3])
        state[attr] = changed
        return state

    def ev_call(self, ev: list[Any], state: State, frame: _Frame) -> State | None:
        return self.invoke(0, ev[1], state)

    def ev_super(self, ev: list[Any], state: State, frame: _Frame) -> State | None:
        _tag, name, _line, ref = ev
        start = frame.index
        if ref is not None:
            named = self.project.resolve(frame.entry, ref)
            if named in self.mro:
                start = self.mro.index(named)
        return self.invoke(start + 1, name, state)

    def ev_base(self, ev: list[Any], state: State, frame: _Frame) -> State | None:
        _tag, name, _line, ref = ev
        target = self.project.resolve(frame.entry, ref)
        if isinstance(target, TorchClass) or (isinstance(target, Opaque) and target.plain):
            return state
        if target in self.mro:
            return self.invoke(self.mro.index(target), name, state)
        return self.ev_dyn(ev, state, frame)

    def ev_dyn(self, ev: list[Any], state: State, frame: _Frame) -> State:
        return {}

    def ev_use(self, ev: list[Any], state: State, frame: _Frame) -> State:
        self.out.escaped.update(_self_reads(ev[1]))
        self.out.kept_ids.update(ids_in(self.value(ev[1], state, frame)))
        return state

    def ev_del(self, ev: list[Any], state: State, frame: _Frame) -> State:
        state.pop(ev[1], None)
        return state

    def ev_ret(self, ev: list[Any], state: State, frame: _Frame) -> None:
        frame.returns.append(state)
        return None

    def ev_raise(self, ev: list[Any], state: State, frame: _Frame) -> None:
        return None

    def ev_if(self, ev: list[Any], state: State, frame: _Frame) -> State | None:
        return _merge([self.block(branch, _copy(state), frame) for branch in ev[1:]])

    def ev_loop(self, ev: list[Any], state: State, frame: _Frame) -> State | None:
        _tag, body, orelse = ev
        once = _merge([state, self.block(body, _copy(state), frame)])
        if once is None:
            return None
        twice = _merge([once, self.block(body, _copy(once), frame)])
        return self.block(orelse, twice, frame) if twice is not None else None

    def ev_try(self, ev: list[Any], state: State, frame: _Frame) -> State | None:
        _tag, body, handlers, orelse, final = ev
        after = self.block(body, _copy(state), frame)
        entry = _merge([state, after])
        caught = [self.block(h, _copy(entry), frame) for h in handlers] if entry is not None else []
        normal = self.block(orelse, after, frame) if after is not None else None
        merged = _merge([normal, *caught])
        return self.block(final, merged, frame) if merged is not None else None

    # --- methods -------------------------------------------------------------------------

    def invoke(self, start: int, name: str, state: State) -> State | None:
        """Run `name` as found from MRO position `start` (what self.name() / super().name()
        would call), on `state`."""
        for i in range(start, len(self.mro)):
            klass = self.mro[i]
            if isinstance(klass, TorchClass):
                if name == "__init__":
                    return state  # torch's own __init__: registers only torch's names
                continue  # (torch's other methods register nothing; a mixin after it may define `name`)
            if isinstance(klass, Opaque):
                if klass.plain:
                    continue
                return {}  # code we cannot read: it may register anything
            entry = klass.info["methods"].get(name)
            if entry is None:
                continue
            key = (klass.dotted, name)
            if key in self.stack or len(self.stack) >= MAX_FRAMES:
                return state
            if not klass.file.scanned:
                return self.library_call(klass, name, state)
            events = entry["ev"] if entry["ev"] is not None else self.lazy(klass, name)
            if events is None:
                return {}
            frame = _Frame(i, klass.file, klass.qualname, [])
            self.stack.append(key)
            try:
                end = self.block(events, state, frame)
            finally:
                self.stack.pop()
            return _merge([end, *frame.returns])
        return state

    def library_call(self, klass: ClassRef, name: str, state: State) -> State:
        """A library's method (PreTrainedModel.__init__, post_init...): not followed step by
        step (its assignments are never the project's findings, and such methods are long),
        only its footprint: the names it may assign forget their earlier assignments, and the
        names it registers count as registered."""
        writes, registered, _dynamic = self.project.footprint(klass, name, self.lazy)
        self.out.registered.update(registered)
        # A library's computed registrations (transformers' tie_weights: setattr(parent, name,
        # param) for the names of the model's own _tied_weights_keys) are not taken to reach
        # the project's attributes: else every model that calls post_init() would go unread.
        for attr in writes:
            state.pop(attr, None)
        return state


def _quick_clean(run: _Run, lazy: Callable[[ClassRef, str], list[Any] | None]) -> bool:
    """No method of the project that the constructor may reach (by name, ignoring order and
    branches) assigns anything that could be a finding: the path need not be followed."""
    names = {"__init__"}
    todo = ["__init__"]
    while todo:
        name = todo.pop()
        for klass in run.mro:
            if not isinstance(klass, ClassRef) or name not in klass.info["methods"] or not klass.file.scanned:
                continue
            entry = klass.info["methods"][name]
            events = entry["ev"]
            maybe = entry.get("cand")
            if events is None and maybe is None:  # left out, with no word about it: read it now
                events = lazy(klass, name)
                if events is None:
                    return False
            if maybe is None:
                maybe = may_find(events)
            if maybe:
                return False
            calls = entry.get("calls") if events is None else [e[1] for e in all_events(events) if e[0] in _CALLS]
            for called in calls or ():
                if called not in names:
                    names.add(called)
                    todo.append(called)
    return True


_CALLS = ("call", "super", "base")


def construction(project: Project, cls: ClassRef, lazy: Callable[[ClassRef, str], list[Any] | None]) -> Outcome:
    """Follow `cls`'s construction path; Outcome.note says why it could not be (then nothing
    else in it is meaningful)."""
    run = _Run(project, cls, lazy)
    out = run.out
    for klass in run.mro:
        if isinstance(klass, Opaque) and not klass.plain:
            out.note = f"its base {klass.dotted} could not be read"
            return out
        if isinstance(klass, TorchClass) and klass.name not in PLAIN_BASES:
            out.torch_names = True
        if isinstance(klass, ClassRef):
            info = klass.info
            methods = info["methods"]
            if "__setattr__" in methods:
                out.note = f"{klass.qualname} defines __setattr__"
                return out
            if "_apply" in methods:
                out.moves_own = True  # as torchmetrics' Metric does: not a finding (checks/frameworks.py)
            out.registered.update(info["registered"])
            out.not_plain.update(methods)
            if klass.qualname == "LightningModule" and not klass.file.scanned:
                out.not_plain.add("_example_input_array")
    out.not_plain.discard("__init__")
    out.final = {} if _quick_clean(run, lazy) else run.invoke(0, "__init__", {})
    return out
