"""Imported last by the runner's fork server, after the caller's preload list: what was
imported is frozen (no collector pass, in the server or any child, rescans it) and the
collector runs again (see runner.server_start)."""

from paraminspect.runner import server_start

server_start.resume()
