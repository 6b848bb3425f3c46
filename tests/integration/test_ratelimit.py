# SPDX-License-Identifier: MIT
"""Rate limiting as a client sees it: the RateLimit headers, 429 with Retry-After over the
limit, separate limits per client (X-Forwarded-For only from trusted proxies), the listing
limited in its cache round trip, health never limited, and Redis down failing open."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class RateLimitTest(harness.StackTestCase):
    app_env = {"FL_RATE_LIMIT": "2", "FL_RATE_BURST": "4", "FL_TRUSTED_PROXIES": "127.0.0.1"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.ctl("seed", "--rows", "50")

    def setUp(self):
        self.stack.redis("FLUSHALL")

    def burst(self, path, n, client=None):
        headers = {"X-Forwarded-For": client} if client else None
        return [self.get(path, headers=headers) for _ in range(n)]

    def test_over_the_burst_is_429_with_retry_after(self):
        rs = self.burst("/api/products/1", 5, client="203.0.113.1")
        self.assertEqual([r.status for r in rs], [200, 200, 200, 200, 429])
        self.assertEqual(rs[0].headers["RateLimit-Policy"], '"default";q=2;w=1')
        self.assertEqual(rs[0].headers["RateLimit"].split(";")[1], "r=3")
        self.assertEqual(rs[3].headers["RateLimit"].split(";")[1], "r=0")
        refused = rs[4]
        self.assertProblem(refused, 429)
        self.assertTrue(refused.json()["type"].endswith("quota-exceeded"), refused.json())
        self.assertGreaterEqual(int(refused.headers["Retry-After"]), 1)
        time.sleep(0.6)  # 2 per second: one request's worth comes back after 0.5 s
        self.assertEqual(self.get("/api/products/1", headers={"X-Forwarded-For": "203.0.113.1"}).status, 200)

    def test_clients_have_their_own_limits(self):
        self.assertEqual(self.burst("/api/products/1", 5, client="203.0.113.2")[-1].status, 429)
        self.assertEqual(self.burst("/api/products/1", 1, client="203.0.113.3")[0].status, 200)
        # Only the last untrusted hop counts: a forged first hop does not buy a new limit.
        forged = self.get("/api/products/1", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.2"})
        self.assertEqual(forged.status, 429)

    def test_listing_is_limited_in_its_cache_round_trip(self):
        rs = self.burst("/api/products?limit=2", 5, client="203.0.113.4")
        self.assertEqual([r.status for r in rs], [200, 200, 200, 200, 429])
        self.assertIn("RateLimit", rs[1].headers)
        self.assertEqual(rs[1].headers.get("X-Cache"), "HIT")

    def test_health_is_never_limited(self):
        rs = self.burst("/api/health/live", 12, client="203.0.113.5")
        self.assertEqual({r.status for r in rs}, {200})

    def test_redis_down_fails_open(self):
        s = self.stack
        s.redis_stop_signal(signal.SIGSTOP)
        try:
            rs = self.burst("/api/products/1", 8, client="203.0.113.6")
        finally:
            s.redis_stop_signal(signal.SIGCONT)
        self.assertEqual({r.status for r in rs}, {200})


class NoTrustedProxyTest(harness.StackTestCase):
    app_workers = 1
    app_env = {"FL_RATE_LIMIT": "2", "FL_RATE_BURST": "2"}

    def test_forwarded_for_is_ignored_from_untrusted_peers(self):
        a = self.get("/api/products/1", headers={"X-Forwarded-For": "198.51.100.1"})
        b = self.get("/api/products/1", headers={"X-Forwarded-For": "198.51.100.2"})
        c = self.get("/api/products/1", headers={"X-Forwarded-For": "198.51.100.3"})
        self.assertEqual([a.status, b.status, c.status], [404, 404, 429])


if __name__ == "__main__":
    unittest.main()
