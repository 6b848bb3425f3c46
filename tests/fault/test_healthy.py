# SPDX-License-Identifier: MIT
"""The fault scaffolding on a healthy stack: the mixed load runs without a failure, its
report adds up, and the webhook ledger matches what the load was answered. Every other
scenario in tests/fault/ is this with something broken in the middle."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402


class HealthyLoadTest(load.FaultTestCase):
    workers = 2
    env = {"FL_API_A_MAX_INFLIGHT": "2"}  # both workers may call API A: nothing is refused

    def test_mixed_load_without_a_fault(self):
        mix = {"cached": 4, "miss": 2, "search": 1, "external": 1, "webhook": 2}
        with self.load(threads=4, mix=mix) as run:
            run.wait(4)
            run.mark()
            run.wait(1)
        report = run.report("none")
        self.assertGreater(report.sent, 100, report)
        self.assertEqual(set(r.kind for r in run.results), set(mix), report)
        self.assertEqual(report.failures(), {}, report)
        self.assertEqual(report.recovery_s, 0.0)
        self.assertLedgerExact(run)


if __name__ == "__main__":
    unittest.main()
