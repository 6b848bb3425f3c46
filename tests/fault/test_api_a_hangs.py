# SPDX-License-Identifier: MIT
"""API A accepts and never answers while 24 clients call the external endpoint, in both
nginx recipes: one pool, where the bulkhead keeps all but half the pool's workers out of
API A, and /products/external/ on a pool of its own (deploy/nginx/farmlokal-site.conf),
where no worker of the catalogue's pool ever waits on API A. Either way every listing,
cached or not, is still answered at once, and external calls beyond the seats are refused
with 503 + Retry-After without waiting."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

LISTING_MAX_S = 0.3   # every listing, cached or a miss
REFUSAL_P99_S = 0.15  # an external call refused at the bulkhead (p99: 15k refusals on a
REFUSAL_MAX_S = 1.0   # shared 2-core machine have a scheduling tail; none waits on API A)


class ApiAHangsTest(load.FaultTestCase):
    workers = 4  # two seats on API A

    def test_listings_never_wait_behind_a_hung_api_a(self):
        self.mock.config("api_a", default_step={"hang": 60})
        callers = self.load(threads=24, mix={"external": 1}, timeout=15)
        listings = self.load(threads=2, mix={"cached": 3, "miss": 2, "webhook": 1}, seed=2)
        with callers, listings:
            listings.wait(12)  # two rounds of the 5 s deadline
        ext = callers.report("API A hangs: 24 external callers")
        rep = listings.report("API A hangs: listings meanwhile")
        self.mock.config("api_a", default_step=None)

        for kind in ("cached", "miss"):
            self.assertEqual({r.status for r in rep.of(kind)}, {200}, rep)
            self.assertLess(rep.latency(kind)[2], LISTING_MAX_S, rep)
        self.assertEqual(rep.failures("webhook"), {}, rep)
        self.assertLessEqual(set(ext.failures("external")), {503, 504}, ext)
        refused = [r for r in ext.of("external") if r.status == 503]
        self.assertGreater(len(refused), 100, ext)
        self.assertTrue(all(r.retry_after for r in refused), "a 503 without Retry-After")
        self.assertLess(ext.latency("external", 503)[1], REFUSAL_P99_S, ext)
        self.assertLess(ext.latency("external", 503)[2], REFUSAL_MAX_S, ext)
        metrics = self.get("/api/metrics").text
        full = re.search(r'outcome="bulkhead_full"\} (\d+)', metrics)
        self.assertTrue(full and int(full.group(1)) > 0, metrics)
        self.assertLedgerExact(listings)


class ApiAHangsOwnPoolTest(ApiAHangsTest):
    """The two-pool recipe: the catalogue's pool has no seat on API A at all."""

    stack_options = {"external_pool": True}
    workers = 2
    external_workers = 2
    external_env = {"FL_API_A_MAX_INFLIGHT": "1"}  # one worker left to refuse at once

    @classmethod
    def prepare(cls):
        super().prepare()
        cls.stack.start_external_pool(cls.external_workers,
                                      env=cls.upstream_env(**cls.external_env))

    def test_listings_never_wait_behind_a_hung_api_a(self):
        super().test_listings_never_wait_behind_a_hung_api_a()
        # Every external call went to the external pool (each 503 is logged with its
        # path); the catalogue's pool saw none.
        refusal = 'path="/products/external/'
        self.assertIn(refusal, self.log("external.log"))
        self.assertNotIn(refusal, self.log("app.log"))

    def log(self, name):
        with open(self.stack.path(name), encoding="utf-8", errors="replace") as f:
            return f.read()


if __name__ == "__main__":
    unittest.main()
