"""What the access log costs a request: the same cheap request (the Identity version document)
on one keep-alive connection, against a running onestack.

Usage: .venv/bin/python bench/access_log_cost.py PORT [N]
Run it against `onestack up` started with ONESTACK_ACCESS_LOG=true and then =false.
"""

from __future__ import annotations

import http.client
import os
import sys
import time


def main() -> None:
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(200):  # warm-up
        conn.request("GET", "/identity/v3")
        conn.getresponse().read()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/identity/v3")
        conn.getresponse().read()
    elapsed = time.perf_counter() - started
    print(f"{n / elapsed:.0f} req/s, {elapsed / n * 1e6:.0f} us/req (load before {load:.2f})")


if __name__ == "__main__":
    main()
