"""The commands, each a unit: its options (a frozen dataclass that cli.py fills from the
command line), what runs in the model's child process, the many-model run, and the report.

- show.py: `show MODEL`; check.py (with check_plan.py, check_fixes.py): `check MODEL|PATH`;
  diff.py: `diff LEFT RIGHT`; catalog.py: `rules` and `explain`.
- output.py: stdout, `-o`, notes and the model's output on stderr, exit codes.
- outcomes.py: a runner Outcome -> a value, a failed result or the error that ends the command.
- arguments.py: the Invocation (argv, --debug), `-a` arguments, `-o` checks.
- cached.py: the result cache around a command. startup.py: what model processes import
  first (the spare, the fork server) and when the CLI forks a spare.
- warmup.py: imported last by the fork server: checks small models there once.

cli.py holds only the Typer definitions; the runner (paraminspect.runner) is given the
targets and the preload lists from here and knows nothing of the commands.
"""
