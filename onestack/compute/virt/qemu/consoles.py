"""A guest's remote consoles on this host: its VGA screen served by QEMU's VNC server and its
first serial port, each on a UNIX socket in the instance's socket directory (mode 0700: only
the agent's user, and so the console proxies beside it, can open them; nothing listens on a
TCP port a local user could reach without a token)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from onestack.compute.virt.driver import ConsoleInfo, ConsoleUnavailable, VirtError

if TYPE_CHECKING:
    from onestack.compute.virt.qemu.driver import Paths

#: ConsoleInfo.host of a console on a UNIX socket (its path is the internal access path)
UNIX_HOST = "localhost"


def vnc_socket(p: Paths) -> Path:
    return p.sockets / "vnc.sock"


def args(p: Paths) -> list[str]:
    """QEMU's arguments for a VGA card whose screen a VNC server on a UNIX socket shows."""
    return ["-device", "VGA", "-vnc", f"unix:{vnc_socket(p)}"]


def info(p: Paths, console_type: str) -> ConsoleInfo:
    """Where the console of ``console_type`` (``vnc`` or ``serial``) of a running guest is."""
    if console_type == "vnc":
        path = vnc_socket(p)
    elif console_type == "serial":
        path = p.serial
    else:
        raise ConsoleUnavailable(f"Unavailable console type {console_type}.")
    if not path.exists():
        raise VirtError(f"the guest's {console_type} console is not listening")
    return ConsoleInfo(UNIX_HOST, 0, str(path))
