"""`paraminspect rules` and `paraminspect explain CODE`: the rule catalog, no model involved."""

from __future__ import annotations

from paraminspect.errors import UsageError


def run_rules() -> int:
    """Every rule: code, name, default severity and summary."""
    from paraminspect.checks import all_rules
    from paraminspect.commands.output import EXIT_OK, output_to
    from paraminspect.render.console import make_console
    from paraminspect.render.findings import print_rules

    with output_to(None) as out:
        print_rules(make_console(out), list(all_rules().values()))
    return EXIT_OK


def run_explain(code: str) -> int:
    """Why a rule's finding is a problem, its examples, and the fix."""
    import difflib

    from paraminspect.checks import all_rules
    from paraminspect.commands.output import EXIT_OK, output_to
    from paraminspect.render.console import make_console
    from paraminspect.render.findings import print_explanation

    catalog = all_rules()
    rule = catalog.get(code.strip().upper())
    if rule is None:
        close = difflib.get_close_matches(code.strip().upper(), list(catalog), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown rule code {code!r}{hint}: run `paraminspect rules` for the list")
    with output_to(None) as out:
        print_explanation(make_console(out), rule)
    return EXIT_OK
