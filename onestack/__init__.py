"""onestack: the OpenStack cloud as one coherent Python project."""

import sys

__version__ = "0.1.0"

# httpx imports its command line (click, rich, pygments: ~40 ms, ~8 MB) with the library when
# those are installed; onestack never runs it, so httpx takes its "not installed" fallback.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
