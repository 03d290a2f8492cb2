"""What `check --fix` does for the registration rules PI001-PI004. The rewriting itself is in
paraminspect.fixes (LibCST), which this module does not import: `rules` and `explain` stay
instant. The examples that show each fix (bad -> exactly what it writes) are the rules'
`fixed` examples, in registration_examples.py."""

from __future__ import annotations

from paraminspect.checks.rule import Fix, FixKind

PI001_FIX = Fix(
    "wrap the value in nn.Parameter (dropping requires_grad=True: a Parameter requires grad already)",
    changes_state=True,
    kinds=(FixKind.PARAMETER,),
)

PI002_FIX = Fix(
    'self.register_buffer("x", value, persistent=False): it moves with .to(); non-persistent, so '
    "state_dict() and existing checkpoints stay as they are (--fix-persistent saves it instead)",
    changes_state=False,
    kinds=(FixKind.BUFFER,),
)

PI003_FIX = Fix(
    "wrap a list of Parameters in nn.ParameterList, a dict of them in nn.ParameterDict (plain tensors "
    "are not fixed: they become buffers, each registered under a name, by hand)",
    changes_state=True,
    kinds=(FixKind.PARAMETER_LIST, FixKind.PARAMETER_DICT),
)

PI004_FIX = Fix(
    "wrap a list or tuple of modules in nn.ModuleList (an empty [] filled by .append() becomes "
    "nn.ModuleList()), a dict with string keys in nn.ModuleDict",
    changes_state=True,
    kinds=(FixKind.MODULE_LIST, FixKind.MODULE_DICT),
)
