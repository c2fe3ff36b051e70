"""A longer hostile-input run against the reference server; prints what was tried and what broke.

    .venv/bin/python benchmarks/fuzz_reference_server.py [--examples 2000]

Counts: inputs tried (by kind), server errors (exceptions kept by the server), well-formed requests
that failed in between, and file descriptors / threads left over once the server settles.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from hypothesis import given, settings  # noqa: E402

from tests.hostile_inputs import hostile_streams, open_fds, send_hostile, settle  # noqa: E402
from tests.test_hardening import hardened_server, well_formed_request_works  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    args = parser.parse_args()
    tried: collections.Counter[str] = collections.Counter()
    broken_requests = 0
    with hardened_server() as server:
        well_formed_request_works(server)
        fds, threads = open_fds(), threading.active_count()
        started = time.monotonic()

        @settings(max_examples=args.examples, deadline=None, database=None)
        @given(stream=hostile_streams())
        def run(stream: tuple[str, list[bytes]]) -> None:
            nonlocal broken_requests
            kind, chunks = stream
            tried[kind] += 1
            send_hostile(server.address, chunks)
            if not well_formed_request_works(server):
                broken_requests += 1

        run()
        settle(server, threads)
        leaked_fds, leaked_threads = open_fds() - fds, threading.active_count() - threads
        print(f"inputs tried: {sum(tried.values())} in {time.monotonic() - started:.1f}s "
              f"({', '.join(f'{k} {n}' for k, n in tried.most_common())})")
        print(f"server errors: {len(server.errors)}; well-formed requests that failed: {broken_requests}")
        print(f"leaked fds: {max(0, leaked_fds)}; leaked threads: {max(0, leaked_threads)}")
        return 1 if server.errors or broken_requests or leaked_fds > 0 or leaked_threads > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
