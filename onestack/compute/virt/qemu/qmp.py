"""One QMP command at a time to a guest's QEMU (``qemu.qmp``, QEMU's own asyncio library).

A connection per command: QEMU's monitor socket takes one client at a time, and a restarted
agent needs no state to talk to the QEMUs it adopts.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from onestack.compute.virt.driver import VirtError


async def execute(socket: Path, command: str, args: dict[str, Any] | None = None) -> Any:
    from qemu.qmp import QMPClient

    client = QMPClient(socket.parent.name)
    try:
        await asyncio.wait_for(client.connect(str(socket)), 10)
        return await asyncio.wait_for(client.execute(command, args), 30)
    except (TimeoutError, OSError) as exc:
        raise VirtError(f"QEMU's monitor {socket} did not answer {command}: {exc}") from exc
    except Exception as exc:  # ExecuteError, ConnectError, ...
        raise VirtError(f"QEMU refused {command}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):  # QEMU gone after "quit": the EOF is expected
            await client.disconnect()
