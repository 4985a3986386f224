"""A fork server for the ``openstack`` CLI: the real ``openstackclient.shell.main``, run in a
child forked from a process that has already imported the client and its plugins.

An ``openstack`` command costs about a second of CPU, nearly all of it importing the client,
its plugins and their entry points; the end-to-end tests run hundreds. Here one process
imports them once (``openstack --help`` loads every command) and forks a child per command:
the child gets the caller's stdin, stdout and stderr descriptors, environment, working
directory and argv, runs the same code a typed command runs, and exits with its status.

Protocol on the unix socket: the caller sends one JSON line ``{"argv", "env", "cwd"}`` with
its three descriptors (SCM_RIGHTS); the server answers ``{"pid": N}`` and, when the command
ends, ``{"status": N}``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path


def _warm() -> None:
    """Import the client, every command module and their entry points."""
    from openstackclient import shell

    with (
        open(os.devnull, "w") as null,
        contextlib.redirect_stdout(null),
        contextlib.redirect_stderr(null),
        contextlib.suppress(SystemExit),
    ):
        shell.main(["--help"])
    logging.root.handlers.clear()


def _child(conn: socket.socket, request: dict[str, object], fds: list[int]) -> None:
    from openstackclient import shell

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[arg-type]
    os.chdir(str(request["cwd"]))
    argv = list(request["argv"])  # type: ignore[call-overload]
    sys.argv = ["openstack", *argv]
    logging.root.handlers.clear()
    status = 1
    try:
        status = shell.main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # reported as the CLI would, then exit 1
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"status": status}).encode() + b"\n")
        os._exit(status if 0 <= status < 256 else 1)


def serve(path: Path) -> None:
    _warm()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        while not msg.endswith(b"\n"):
            more = conn.recv(1 << 20)
            if not more:
                break
            msg += more
        pid = os.fork()
        if pid == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _child(conn, json.loads(msg), fds)
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        conn.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
