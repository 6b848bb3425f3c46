# SPDX-License-Identifier: MIT
"""Three MariaDB replicas under a listing load with admin writes: every replica serves while
all are current; then one is SIGKILLed and another lags (STOP SLAVE SQL_THREAD) and no
listing fails and none is older than the writes before it (the third replica and the
primary carry the reads); once both are back and caught up, reads run on them again within
2 s.

Run: FL_BUILD_DIR=/abs/build python3 tests/cluster/test_replicas.py -v
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
from test_catalog import ADMIN_TOKEN  # noqa: E402

BACK_S = 2.0  # from caught up to serving reads again
FAULT_S = 5
WRITERS = 2


class ReplicasTest(cluster.ClusterTestCase):
    cluster_options = {"replicas": 3}

    @classmethod
    def prepare(cls):
        s = cls.stack
        s.seed(500)
        s.start_app(workers=4, env={"FL_ADMIN_TOKEN": ADMIN_TOKEN, "FL_MYSQL_READ_URL": s.read_url})
        cls.probes = []
        for i in range(WRITERS):
            word = "clusterprobe%s" % "abcdefgh"[i]
            r = s.request("POST", "/api/products", body={
                "sku": "CLUSTER-%d" % i, "name": "Probe %s" % word, "description": "A probe.",
                "category": "fruits", "price": "1.00", "unit": "kg", "stock": 0,
                "producer": "Cluster Farm"}, headers={"Authorization": "Bearer " + ADMIN_TOKEN})
            if r.status != 201:
                raise RuntimeError("cannot create a probe product: %r" % r)
            cls.probes.append((r.json()["data"]["id"], word))
        for i in range(1, 4):
            s.replica_sync_n(i)

    def served(self):
        """Reads each replica served so far, by replica number."""
        m = self.metrics()
        return {i: m.get('farmlokal_replica_served_total{replica="%s"}'
                         % self.stack.replica_socket_n(i), 0) for i in range(1, 4)}

    def test_one_replica_killed_one_lagging_under_load(self):
        s = self.stack
        writers = [cluster.Writer(s, pid, word) for pid, word in self.probes]
        with self.listing_load(threads=4) as run:
            for w in writers:
                w.start()
            try:
                run.wait(2)
                healthy = self.served()
                self.assertTrue(all(healthy[i] > 0 for i in (1, 2, 3)),
                                "a current replica served nothing: %s" % healthy)
                s.replica_kill_n(2)
                s.replica_sql_n(3, "STOP SLAVE SQL_THREAD")
                run.wait(1)
                before = self.served()
                run.wait(FAULT_S)
                during = self.served()
                checks_during = sum(w.checks for w in writers)
                health = self.get("/api/health").json()
                s.replica_start_n(2)
                s.replica_sql_n(3, "START SLAVE SQL_THREAD")
                s.replica_sync_n(2)
                s.replica_sync_n(3)
                run.mark()
                at_mark = self.served()
                back_s = cluster.wait_until(
                    lambda: all(v > at_mark[i] for i, v in self.served().items() if i != 1),
                    timeout=BACK_S + 3)
                run.wait(0.5)
            finally:
                for w in writers:
                    w.stop()
        report = run.report("replica 2 killed, replica 3 lagging")
        sys.stderr.write("served per replica: healthy %s, fault %s..%s, back in %s s\n"
                         % (healthy, before, during, back_s))
        self.assertEqual(report.failures("miss"), {}, str(report))
        problems = [p for w in writers for p in w.problems]
        self.assertEqual(problems, [], "writes not seen in the next listing")
        self.assertGreater(checks_during, 20, "too few write-then-read checks")
        self.assertEqual(during[2], before[2], "the killed replica served")
        self.assertGreater(during[1], before[1], "the current replica stopped serving")
        self.assertEqual(health["status"], "degraded", health)
        self.assertEqual(health["checks"]["mysql_replica_2"]["status"], "fail", health)
        self.assertEqual(health["checks"]["mysql_replica_1"]["status"], "ok", health)
        self.assertEqual(health["checks"]["mysql_replica_2"]["address"], s.replica_socket_n(2))
        self.assertIsNotNone(back_s, "the recovered replicas did not serve again")
        self.assertLessEqual(back_s, BACK_S, "reads back on the recovered replicas after %.2f s" % back_s)
        m = self.metrics()
        self.assertGreater(m.get('farmlokal_replica_passed_over_total{replica="%s",reason="down"}'
                                 % s.replica_socket_n(2), 0), 0)
        self.assertGreater(m.get('farmlokal_replica_passed_over_total{replica="%s",reason="behind"}'
                                 % s.replica_socket_n(3), 0), 0)


if __name__ == "__main__":
    unittest.main()
