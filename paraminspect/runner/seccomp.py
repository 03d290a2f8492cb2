"""No network for a model process, enforced by the kernel (Linux seccomp), for the process,
its threads and every process it starts (subprocesses and `exec` included).

paraminspect.loaders.guard refuses connections made through Python's socket module (an
audit hook, with a clear message); this filter covers what that hook cannot see: a raw
`libc.socket`/`connect` through ctypes, a C extension, a subprocess (`curl`, another Python),
UDP `sendto`. It lets `socket()` create only AF_UNIX sockets (the runner's own pipes and
socketpairs) and AF_NETLINK ones (glibc asks the kernel for the interfaces); any other family
(IPv4, IPv6, packet sockets...) fails with EACCES ("Permission denied"). io_uring, which can
create sockets without the socket() call, is refused too, and so is every system call made
through another architecture's entry (a 32-bit `int 0x80` on x86_64).

It is installed with PR_SET_NO_NEW_PRIVS (required to install a filter without privileges:
a set-uid program started by the model gains no privileges), once per process, before any
of the model's code runs; a filter can never be removed. Where the platform has no seccomp
(not Linux, another architecture, an old kernel, a container that forbids it), `install()`
says why and only the audit hook stands (docs/runtime.md).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys

# Per architecture: the audit arch value, socket(), io_uring_setup(), seccomp() numbers.
_ARCHES = {
    "x86_64": (0xC000003E, 41, 425, 317),
    "aarch64": (0xC00000B7, 198, 425, 277),
}
_X32_BIT = 0x40000000  # x86_64's x32 ABI: syscall numbers with this bit set
AF_UNIX, AF_NETLINK = 1, 16

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
# BPF opcodes: load a word at an absolute offset; jump if equal / greater or equal; return.
LD_ABS, JEQ, JGE, RET = 0x20, 0x15, 0x35, 0x06
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16  # struct seccomp_data (arg 0's low word, little-endian)


class _Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction))]


def _machine() -> str | None:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return machine if machine in _ARCHES and sys.byteorder == "little" else None


def supported() -> str | None:
    """None when the filter can be installed here, else why not (for a note)."""
    if not sys.platform.startswith("linux"):
        return f"the kernel-level network filter needs Linux (this is {sys.platform})"
    if _machine() is None:
        return f"the kernel-level network filter is not written for {platform.machine() or 'this machine'}"
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", encoding="ascii") as fh:
            if "errno" not in fh.read().split():
                return "this kernel's seccomp cannot return errors"
    except OSError:
        return "this kernel has no seccomp filters (or /proc is not mounted)"
    return None


def _program(arch: int, socket_nr: int, io_uring_nr: int, x32: bool) -> list[tuple[int, int, int, int]]:
    deny = RET_ERRNO | errno.EACCES
    # Jumps are relative (instructions to skip). Laid out:
    #  0 ld arch | 1 jeq arch ? 3 : 2 | 2 ret deny | 3 ld nr | 4 jge x32 ? 11 : 5
    #  5 jeq socket ? 6 : 10 | 6 ld arg0 | 7 jeq AF_UNIX ? 12 : 8 | 8 jeq AF_NETLINK ? 12 : 9
    #  9 ret deny | 10 jeq io_uring_setup ? 11 : 12 | 11 ret deny | 12 ret allow
    return [
        (LD_ABS, 0, 0, OFFSET_ARCH),
        (JEQ, 1, 0, arch),
        (RET, 0, 0, deny),
        (LD_ABS, 0, 0, OFFSET_NR),
        (JGE, 6, 0, _X32_BIT if x32 else 0xFFFFFFFF),
        (JEQ, 0, 4, socket_nr),
        (LD_ABS, 0, 0, OFFSET_ARG0),
        (JEQ, 4, 0, AF_UNIX),
        (JEQ, 3, 0, AF_NETLINK),
        (RET, 0, 0, deny),
        (JEQ, 0, 1, io_uring_nr),
        (RET, 0, 0, deny),
        (RET, 0, 0, RET_ALLOW),
    ]


_installed: bool | str | None = None  # True, or why it could not be


def install() -> str | None:
    """Install the filter in this process (once; its threads and children inherit it). None
    when it is in place, else why it is not."""
    global _installed
    if _installed is None:
        _installed = _install()
    return None if _installed is True else str(_installed)


def _install() -> bool | str:
    why = supported()
    if why is not None:
        return why
    machine = _machine()
    assert machine is not None
    arch, socket_nr, io_uring_nr, seccomp_nr = _ARCHES[machine]
    code = _program(arch, socket_nr, io_uring_nr, x32=machine == "x86_64")
    instructions = (_Instruction * len(code))(*(_Instruction(*i) for i in code))
    program = _Program(len(code), instructions)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        return f"libc cannot be loaded ({exc})"
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
    # every thread at once where the kernel allows it (3.17+), else this one (and its children)
    done = libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(program)) == 0
    if not done and libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        return f"installing the seccomp filter failed: {os.strerror(ctypes.get_errno())}"
    return True
