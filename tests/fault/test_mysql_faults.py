# SPDX-License-Identifier: MIT
"""MySQL locked, hung or killed under a steady load: listings seen before are served stale
(X-Cache: STALE) within a bounded time, a listing never seen is a quick 503 problem with
Retry-After, /health keeps answering within a second, nothing waits on MySQL for longer
than its bound, and the workers recover by themselves once MySQL is back."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

FIRST_S = 1.5        # any request while MySQL fails
SETTLED_S = 0.15     # a stale listing once the first two seconds of the fault have passed
HEALTH_S = 1.0       # /health, whatever hangs
FRESH_AGAIN_S = 3.0  # fresh listings again after the fault ends
MIX = {"cached": 6, "miss": 2, "webhook": 1}


class MysqlFaultsTest(load.FaultTestCase):
    workers = 4
    # Entries go past their fresh life a second after they are built.
    env = {"FL_CACHE_TTL": "1", "FL_RATE_LIMIT": "0"}

    def check_fault(self, run, report, fault_start, fault_end):
        """The bounds every MySQL fault must keep (see the module docstring)."""
        report = str(report)  # rendered once: it sorts every result
        during = [r for r in run.results if fault_start <= r.start < fault_end]
        cached = [r for r in during if r.kind == "cached"]
        self.assertTrue(cached, report)
        for r in cached:
            self.assertEqual(r.status, 200, "a listing seen before: %r\n%s" % (r, report))
            self.assertLess(r.elapsed, FIRST_S, "%r\n%s" % (r, report))
            if r.start > fault_start + 2.0:
                self.assertLess(r.elapsed, SETTLED_S, "%r\n%s" % (r, report))
        self.assertIn("STALE", {r.cache for r in cached}, report)
        for r in (r for r in during if r.kind == "miss"):
            self.assertIn(r.status, (200, 503), "%r\n%s" % (r, report))
            self.assertLess(r.elapsed, FIRST_S, "%r\n%s" % (r, report))
            if r.status == 503:
                self.assertTrue(r.retry_after, "a 503 without Retry-After: %r" % r)
        after = [r for r in run.results if r.kind == "cached" and r.start > fault_end + FRESH_AGAIN_S]
        self.assertTrue(after, report)
        self.assertTrue(all(r.status == 200 and r.cache in ("HIT", "MISS") for r in after),
                        "not fresh %.0f s after the fault: %s" % (FRESH_AGAIN_S, after[:5]))
        self.assertLedgerExact(run)

    def check_health(self, probe):
        """/health answers within HEALTH_S throughout, as its client sees it: no worker is
        ever held longer than a read's bound plus the client's grace (README), so even a
        /health queued behind four workers in their first MySQL timeout is served in time."""
        slow = [t for t in probe.times if t[1] == 0 or t[2] >= HEALTH_S]
        self.assertEqual(slow, [], "/health answered slowly or not at all")

    def warm(self, run):
        """Every cached listing seen once (then past its fresh life by the fault)."""
        run.wait(3)
        self.assertTrue(any(r.kind == "cached" and r.status == 200 for r in run.results))

    def test_tables_write_locked(self):
        locker = None
        with load.Probe(self.stack, "/api/health") as probe, self.load(threads=4, mix=MIX) as run:
            self.warm(run)
            locker = subprocess.Popen(
                ["mariadb", "--no-defaults", "-uroot", "--socket=" + self.stack.mysql_socket,
                 "farmlokal", "-e",
                 "LOCK TABLES products WRITE, product_words WRITE; SELECT SLEEP(12); UNLOCK TABLES"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            start = time.monotonic()
            locker.wait(timeout=30)
            end = time.monotonic()
            run.mark()
            run.wait(FRESH_AGAIN_S + 2)
        report = run.report("products write-locked for 12 s")
        self.check_fault(run, report, start + 0.2, end)
        self.check_health(probe)

    def test_mysql_hung(self):
        with load.Probe(self.stack, "/api/health") as probe, self.load(threads=4, mix=MIX) as run:
            self.warm(run)
            self.stack.mysql_stop_signal(signal.SIGSTOP)
            start = time.monotonic()
            try:
                run.wait(8)
            finally:
                self.stack.mysql_stop_signal(signal.SIGCONT)
            end = time.monotonic()
            run.mark()
            run.wait(FRESH_AGAIN_S + 2)
        report = run.report("MySQL SIGSTOPped for 8 s")
        self.check_fault(run, report, start, end)
        self.check_health(probe)

    def test_health_while_every_worker_waits_on_mysql(self):
        """Twice as many clients as workers, all on listing misses: when MySQL hangs every
        worker is in its first read timeout at once, and /health waits for one of them."""
        with load.Probe(self.stack, "/api/health") as probe, \
                self.load(threads=2 * self.workers, mix={"miss": 1}) as run:
            run.wait(1)
            self.stack.mysql_stop_signal(signal.SIGSTOP)
            try:
                run.wait(3)
            finally:
                self.stack.mysql_stop_signal(signal.SIGCONT)
            run.wait(1)
        run.report("MySQL SIGSTOPped under misses only")
        self.check_health(probe)

    def test_mysql_killed_and_restarted(self):
        workers = self.stack.worker_pids()
        with self.load(threads=4, mix=MIX) as run:
            self.warm(run)
            self.stack.mysql_kill()
            start = time.monotonic()
            run.wait(3)
            self.stack.mysql_start()
            back = time.monotonic()
            run.mark()
            run.wait(FRESH_AGAIN_S + 2)
        report = run.report("MySQL SIGKILLed, restarted")
        self.check_fault(run, report, start, back)
        listings = [r for r in run.results if r.kind in ("cached", "miss") and r.start > back + 2]
        self.assertTrue(listings and all(r.status == 200 for r in listings),
                        "not recovered 2 s after MySQL came back:\n%s" % report)
        self.assertEqual(self.stack.worker_pids(), workers, "a worker was restarted")


if __name__ == "__main__":
    unittest.main()
