# SPDX-License-Identifier: MIT
"""Overload: search misses offered at four times what the pool serves, for 10 s. A request
that waited in the queue past FL_QUEUE_BUDGET_MS is refused with 503 + Retry-After without
its work, so every request served was served soon, and nothing times out or fails with a
502/504."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

BUDGET_MS = 100


class OverloadTest(load.FaultTestCase):
    workers = 2
    env = {"FL_QUEUE_BUDGET_MS": str(BUDGET_MS)}

    def test_overload_is_refused_quickly_never_served_late(self):
        with self.load(threads=2, mix={"search": 1}) as probe:
            probe.wait(2)
        capacity = probe.report("capacity").sent / 2.0
        with self.load(threads=96, rate=4 * capacity, mix={"search": 1}, seed=3) as run:
            run.wait(10)
        rep = run.report("overload: search misses at 4x %.0f/s" % capacity)

        self.assertLessEqual(set(r.status for r in run.results), {200, 503}, rep)
        served = [r.elapsed for r in rep.of("search") if r.status == 200]
        self.assertGreater(len(served), capacity, rep)
        self.assertLess(max(served), BUDGET_MS / 1000.0 + 1.0, rep)
        refused = [r for r in rep.of("search") if r.status == 503]
        self.assertTrue(all(r.retry_after for r in refused), "a 503 without Retry-After")
        shed = re.search(r"farmlokal_shed_total (\d+)", self.get("/api/metrics").text)
        self.assertEqual(int(shed.group(1)), len(refused), rep)
        self.assertGreater(len(refused), 0, "the load never overloaded the pool")


if __name__ == "__main__":
    unittest.main()
