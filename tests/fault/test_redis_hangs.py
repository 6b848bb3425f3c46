# SPDX-License-Identifier: MIT
"""Redis accepts and never answers (SIGSTOP) for 6 s under 64 concurrent connections: every
listing is still answered 200 from MySQL (X-Cache: BYPASS), a hung Redis costs each worker
one short timeout per backoff interval (1 s, then 2 s), not one per request, and cache hits
are back within 3 s of SIGCONT. The 64 connections come from wrk: 64 Python threads would
measure their own scheduling, not the API.

Latency: the issue's bound is p99 within 100 ms, which the release build keeps (`bench.py
faults`: 85 ms at 64 connections, 4 workers, 2 cores). tests/run's build runs under
AddressSanitizer, which makes the Redis-down path (each page built from MySQL) 1.75x
slower than the release build on this machine (1255 against 2203 pages/s), so the bound
here is twice the issue's; on a machine loaded by other work, 3x the same load's p99 with
Redis healthy, measured just before, when that is more."""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

P99_MS = 2 * 100    # listings while Redis hangs: the bound, for an ASan build (above)
HANG_S = 6
HITS_AGAIN_S = 3.0  # after SIGCONT
LISTING = "/api/products?limit=20&category=vegetables"


class RedisHangsTest(load.FaultTestCase):
    workers = 4
    env = {"FL_RATE_LIMIT": "0"}

    def test_redis_hangs_under_64_connections(self):
        url = self.stack.base_url + LISTING
        self.assertEqual(self.get(LISTING).status, 200)
        healthy = load.wrk(url, seconds=2)
        errors0 = self.redis_errors()
        self.stack.redis_stop_signal(signal.SIGSTOP)
        try:
            during = load.wrk(url, seconds=HANG_S - 1)
        finally:
            self.stack.redis_stop_signal(signal.SIGCONT)
        errors = self.redis_errors() - errors0
        sys.stderr.write("64 connections on a cached listing: healthy %s\nwhile Redis hangs %s\n"
                         % (healthy, during))
        self.assertEqual((during["non2xx"], during["socket_errors"]), (0, 0), during)
        self.assertLessEqual(during["p99_ms"], max(P99_MS, 3 * healthy["p99_ms"]), during)
        # One timeout per worker per backoff interval at the most (and one to start with).
        self.assertLessEqual(errors, self.workers * (HANG_S + 1), "Redis errors: %d" % errors)
        time.sleep(HITS_AGAIN_S)
        caches = [self.get(LISTING).headers.get("X-Cache") for _ in range(12)]
        self.assertEqual(set(caches), {"HIT"},
                         "no cache hits %.0f s after SIGCONT: %s" % (HITS_AGAIN_S, caches))

    def redis_errors(self):
        text = self.get("/api/metrics").text
        return int(re.search(r"^farmlokal_redis_errors_total (\d+)", text, re.M).group(1))


if __name__ == "__main__":
    unittest.main()
