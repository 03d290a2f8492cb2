"""`python -m paraminspect` and the `paraminspect` console script.

Ctrl-C during the first ~0.1 s (while typer and the CLI are imported) ends the command like
any other interrupt: "interrupted", exit 130, no traceback.
"""

import os
import signal
import sys


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started with SIGINT ignored: Ctrl-C still works
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        from paraminspect.runner import strays

        strays.mark()  # everything this command starts carries it, to be ended with it
        from paraminspect.commands.startup import MODEL_PROCESS_PRELOAD, wants_spare

        if wants_spare(sys.argv[1:]):  # a model process importing torch while the CLI starts
            from paraminspect.runner import spare

            spare.start(MODEL_PROCESS_PRELOAD)
        from paraminspect.cli import entry
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        os._exit(130)
    entry()


if __name__ == "__main__":  # not when a spawned worker process imports the main module
    main()
