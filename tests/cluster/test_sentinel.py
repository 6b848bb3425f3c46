# SPDX-License-Identifier: MIT
"""Redis under Sentinel (FL_REDIS_URL=redis-sentinel://...): a primary, one replica and
three sentinels (down-after-milliseconds 1000), under a load of cached listings.

- The primary is SIGKILLed and, with it, the first sentinel hangs (SIGSTOP): no
  listing fails (they are built from MySQL, X-Cache BYPASS, while the other two sentinels
  fail over), cache hits are back within 5 s of the promotion, and rate limiting works
  again on the new primary.
- The primary is demoted to a replica while the workers stay connected to it (REPLICAOF
  closes no client), and the sentinels are pointed at the new primary: the workers' writes
  are refused with -READONLY, they ask the sentinels again and follow; an admin write made
  while the demoted server refused its cache invalidation still shows in the listing
  afterwards, and rate limiting resumes.

Run: FL_BUILD_DIR=/abs/build python3 tests/cluster/test_sentinel.py -v
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
from test_catalog import ADMIN_TOKEN  # noqa: E402

HITS_AGAIN_S = 5.0  # after the promotion
PROMOTION_S = 30.0  # the sentinels' failover, at most
RATE, BURST = 40, 40  # per client; the load (one client) stays under it
LOAD_RATE = 25  # requests per second, all threads together
CACHED = "/api/products?limit=20&category=vegetables"  # one of the load's cached listings


class SentinelTest(cluster.ClusterTestCase):
    cluster_options = {"sentinels": True}

    @classmethod
    def prepare(cls):
        s = cls.stack
        s.seed(300)
        s.start_app(workers=4, env={"FL_REDIS_URL": s.sentinel_url, "FL_RATE_LIMIT": str(RATE),
                                    "FL_RATE_BURST": str(BURST), "FL_TRUSTED_PROXIES": "127.0.0.1",
                                    "FL_ADMIN_TOKEN": ADMIN_TOKEN})

    def limited(self, client):
        """Sends 3 x BURST listings as one client, back to back; how many were refused."""
        statuses = [self.get("/api/products?limit=5", headers={"X-Forwarded-For": client}).status
                    for _ in range(3 * BURST)]
        self.assertEqual(set(statuses) - {200, 429}, set(), statuses)
        return statuses.count(429)

    def check_run(self, run, fault, at, name):
        """No listing failed, some were built without Redis after `fault`, and every one
        started HITS_AGAIN_S after `at` (the new primary named) was a cache hit."""
        report = run.report(name)
        text = str(report)
        misses = [r.end - at for r in run.results if r.start >= at and r.cache != "HIT"]
        sys.stderr.write("new primary %.2f s after the fault; last listing not a hit %.2f s "
                         "after that\n" % (at - fault, max(misses, default=0.0)))
        self.assertEqual(report.failures("cached"), {}, text)
        self.assertTrue(any(r.cache == "BYPASS" for r in run.results if r.start >= fault),
                        "the load never saw Redis gone:\n%s" % text)
        later = [r for r in run.results if r.start > at + HITS_AGAIN_S]
        self.assertTrue(later, text)
        self.assertEqual([r.cache for r in later if r.cache != "HIT"], [],
                         "listings not cache hits %.0f s after the new primary:\n%s"
                         % (HITS_AGAIN_S, text))

    def test_demoted_primary_is_left_for_the_new_one(self):
        s = self.stack
        old, new = s.redis_ports()
        target = self.get(CACHED).json()["data"][0]
        self.assertEqual(self.get(CACHED).headers.get("X-Cache"), "HIT")
        with self.listing_load("cached", threads=4, rate=LOAD_RATE) as run:
            run.wait(2)
            s.redis_cmd(new, "REPLICAOF", "NO", "ONE")
            s.redis_cmd(old, "REPLICAOF", "127.0.0.1", str(new))
            demoted = time.monotonic()
            r = self.request("PATCH", "/api/products/%d" % target["id"], body={"stock": 987654},
                             headers={"Authorization": "Bearer " + ADMIN_TOKEN})
            self.assertEqual(r.status, 200, r)
            s.repoint_sentinels(new)
            at = time.monotonic()
            run.mark()
            run.wait(HITS_AGAIN_S + 2)
        self.check_run(run, demoted, at, "Redis primary demoted under Sentinel")
        listed = [p["stock"] for p in self.get(CACHED).json()["data"] if p["id"] == target["id"]]
        self.assertEqual(listed, [987654], "a write made during the switch is not listed")
        self.assertGreater(self.limited("203.0.113.3"), 0, "rate limiting did not resume")
        s.wait_sentinels(new)  # ready for a failover

    def test_primary_killed_under_load(self):
        s = self.stack
        primary, replica = s.redis_ports()
        self.assertGreater(self.limited("203.0.113.1"), 0, "no rate limit before the failover")
        with self.listing_load("cached", threads=4, rate=LOAD_RATE) as run:
            run.wait(2)
            # The first sentinel (the one a worker asks first until it fails) hangs too.
            s.sentinel_signal(1, signal.SIGSTOP)
            try:
                s.redis_kill_port(primary)
                killed = time.monotonic()
                took = cluster.wait_until(
                    lambda: s.sentinel_master(s.sentinel_ports[1]) == ("127.0.0.1", replica),
                    timeout=PROMOTION_S, interval=0.1)
                self.assertIsNotNone(took, "the sentinels did not promote the replica")
                at = time.monotonic()
                run.mark()
                run.wait(HITS_AGAIN_S + 2)
            finally:
                s.sentinel_signal(1, signal.SIGCONT)
        self.check_run(run, killed, at, "Redis primary SIGKILLed under Sentinel")
        self.assertGreater(self.limited("203.0.113.2"), 0, "rate limiting did not resume")
        h = self.get("/api/health")
        self.assertEqual(h.json()["checks"]["redis"]["status"], "ok", h)


if __name__ == "__main__":
    unittest.main()
