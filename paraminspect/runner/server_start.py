"""Imported first by the runner's fork server: the cyclic collector stays paused while the
server imports its preload list (torch, timm: ~1M objects that live as long as the server,
no garbage worth a pass; see bench/NOTES.md for what the passes cost). runner.server_ready,
imported last, calls resume(): what was imported is frozen (no pass, in the server or any
child, rescans it) and the collector runs again. It also starts paraminspect.reads' recorder,
so that the modules the server imports keep the fingerprint they had when imported."""

from __future__ import annotations

import gc

from paraminspect import reads

reads.start_process()  # what the server imports is fingerprinted when it is read
_collecting = gc.isenabled()
gc.disable()


def resume() -> None:
    gc.freeze()
    if _collecting:
        gc.enable()
