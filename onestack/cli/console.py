"""The CLI's consoles: rich is imported on the first print, so `onestack up` does not pay for
it (~0.1 s of CPU) before its APIs answer."""

from __future__ import annotations

from typing import Any


class LazyConsole:
    """A ``rich.console.Console(**options)`` made on first use."""

    def __init__(self, **options: Any):
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)
