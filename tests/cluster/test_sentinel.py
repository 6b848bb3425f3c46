# SPDX-License-Identifier: MIT
"""Redis under Sentinel (FL_REDIS_URL=redis-sentinel://...): a primary, one replica and
three sentinels (down-after-milliseconds 1000). The primary is SIGKILLed under a load of
cached listings: no listing fails (they are built from MySQL, X-Cache BYPASS, while the
sentinels fail over), cache hits are back within 5 s of the promotion, and rate limiting
works again on the new primary.

Run: FL_BUILD_DIR=/abs/build python3 tests/cluster/test_sentinel.py -v
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

HITS_AGAIN_S = 5.0  # after the promotion
PROMOTION_S = 30.0  # the sentinels' failover, at most
RATE, BURST = 40, 40  # per client; the load (one client) stays under it
LOAD_RATE = 25  # requests per second, all threads together


class SentinelTest(cluster.ClusterTestCase):
    cluster_options = {"sentinels": True}

    @classmethod
    def prepare(cls):
        s = cls.stack
        s.seed(300)
        s.start_app(workers=4, env={"FL_REDIS_URL": s.sentinel_url, "FL_RATE_LIMIT": str(RATE),
                                    "FL_RATE_BURST": str(BURST),
                                    "FL_TRUSTED_PROXIES": "127.0.0.1"})

    def limited(self, client):
        """Sends 3 x BURST listings as one client, back to back; how many were refused."""
        statuses = [self.get("/api/products?limit=5", headers={"X-Forwarded-For": client}).status
                    for _ in range(3 * BURST)]
        self.assertEqual(set(statuses) - {200, 429}, set(), statuses)
        return statuses.count(429)

    def test_primary_killed_under_load(self):
        s = self.stack
        primary = ("127.0.0.1", s.redis_port)
        promoted = ("127.0.0.1", s.redis_replica_port)
        self.assertGreater(self.limited("203.0.113.1"), 0, "no rate limit before the failover")
        with self.listing_load("cached", threads=4, rate=LOAD_RATE) as run:
            run.wait(2)
            s.redis_kill()
            killed = time.monotonic()
            took = cluster.wait_until(lambda: s.sentinel_master(s.sentinel_ports[0]) == promoted,
                                      timeout=PROMOTION_S, interval=0.1)
            self.assertIsNotNone(took, "the sentinels did not promote the replica")
            at = time.monotonic()
            run.mark()
            run.wait(HITS_AGAIN_S + 2)
        report = run.report("Redis primary SIGKILLed under Sentinel")
        text = str(report)
        misses = [r.end - at for r in run.results if r.start >= at and r.cache != "HIT"]
        sys.stderr.write("promotion %.2f s after the kill; last listing not a hit %.2f s after it\n"
                         % (at - killed, max(misses, default=0.0)))
        self.assertEqual(report.failures("cached"), {}, text)
        during = [r for r in run.results if killed <= r.start < at]
        self.assertTrue(during and any(r.cache == "BYPASS" for r in during),
                        "the load never saw Redis gone:\n%s" % text)
        later = [r for r in run.results if r.start > at + HITS_AGAIN_S]
        self.assertTrue(later, text)
        self.assertEqual([r.cache for r in later if r.cache != "HIT"], [],
                         "listings not cache hits %.0f s after the promotion:\n%s" % (HITS_AGAIN_S, text))
        self.assertNotEqual(primary, promoted)
        self.assertGreater(self.limited("203.0.113.2"), 0, "rate limiting did not resume")
        h = self.get("/api/health")
        self.assertEqual(h.json()["checks"]["redis"]["status"], "ok", h)


if __name__ == "__main__":
    unittest.main()
