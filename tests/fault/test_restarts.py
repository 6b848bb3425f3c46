# SPDX-License-Identifier: MIT
"""Workers killed and pools restarted under load, two pools behind one nginx upstream (as
deploy/nginx/farmlokal-site.conf has them):

- workers SIGKILLed ten times, in a pool run by our master and one run by spawn-fcgi with
  multiwatch: nginx sends a GET whose worker died to the other pool, so none fails (a POST
  in flight is not resent: its sender gets a 502 and retries);
- pool A, then pool B, stopped with SIGTERM and started again while signed webhooks are
  posted: a stopping pool serves every connection already queued to it and new ones go to
  the other pool, so no POST fails.

Each ends with the webhook ledger: every event delivered applied exactly once."""

import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402
import harness  # noqa: E402

GETS = ("cached", "miss", "search")


class TwoPools(load.FaultTestCase):
    stack_options = {"two_pools": True}
    workers = 2
    runner_b = "master"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.stack.start_pool_b(workers=2, env=cls.upstream_env(), runner=cls.runner_b)
        except BaseException:
            cls.stack.dump_logs()
            raise


class WorkersKilledTest(TwoPools):
    runner_b = "multiwatch"

    def test_workers_sigkilled_ten_times(self):
        rng = random.Random(7)
        s = self.stack
        mix = {"cached": 3, "miss": 2, "search": 1, "webhook": 2}
        with self.load(threads=6, mix=mix) as run:
            run.wait(1)
            for n in range(10):
                supervisor = s.app_pid if n % 2 == 0 else s.pool_b_pid
                victims = harness.child_pids(supervisor)
                self.assertTrue(victims, "pool has no workers")
                victim = rng.choice(victims)
                os.kill(victim, signal.SIGKILL)
                harness.poll(lambda: len([p for p in harness.child_pids(supervisor)
                                          if p != victim]) == 2, timeout=5)
                run.wait(0.7)
            run.mark()
            run.wait(1)
        rep = run.report("ten workers SIGKILLed (master and spawn-fcgi + multiwatch)")
        for kind in GETS:
            self.assertEqual(rep.failures(kind), {}, rep)
        self.assertLessEqual(set(rep.failures("webhook")), {502}, rep)
        self.assertLedgerExact(run)


class PoolsRestartedTest(TwoPools):

    def test_pool_a_then_pool_b_restarted_while_webhooks_post(self):
        s = self.stack
        env = self.upstream_env()
        with self.load(threads=8, mix={"webhook": 3, "cached": 1}) as run:
            run.wait(1.5)
            t = time.monotonic()
            self.assertEqual(s.stop_app(signal.SIGTERM), 0)
            s.start_app(workers=self.workers, env=env, migrate=False)
            run.wait(1.5)
            self.assertEqual(s.stop_pool_b(signal.SIGTERM), 0)
            s.start_pool_b(workers=2, env=env)
            sys.stderr.write("\nrestarts: both pools in %.1f s\n" % (time.monotonic() - t))
            run.mark()
            run.wait(1.5)
        rep = run.report("pool A, then pool B, restarted (SIGTERM) under webhooks")
        self.assertEqual(rep.failures(), {}, rep)
        self.assertEqual({r.status for r in run.results}, {200}, rep)
        self.assertLedgerExact(run)


if __name__ == "__main__":
    unittest.main()
