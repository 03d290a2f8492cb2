from paraminspect.cli import entry

entry()
