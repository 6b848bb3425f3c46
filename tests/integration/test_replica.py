# SPDX-License-Identifier: MIT
"""Reads on a replica (FL_MYSQL_READ_URL), against a real MariaDB replica that follows the
test's primary by GTID: listings and GET by id run on the replica while it has caught up,
never on one that is behind (an admin write shows in the very next read, and is what gets
cached), and the API keeps answering when either server is down.

Run: FL_BUILD_DIR=/abs/build python3 tests/integration/test_replica.py -v
"""

import math
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import poll  # noqa: E402
from test_catalog import (ADMIN_TOKEN, BASE_ENV, CatalogMixin, com_stmt_execute,  # noqa: E402
                          flush_cache, insert_products, make_products, next_id, snapshot)
from test_metrics import parse  # noqa: E402

REPLICA = 'farmlokal_replica_reads_total{outcome="replica"}'
PASSED_OVER = 'farmlokal_replica_reads_total{outcome="passed_over"}'
BEHIND = 'farmlokal_replica_reads_total{outcome="replica_behind"}'


class ReplicaTest(CatalogMixin, harness.StackTestCase):
    stack_options = {"replica": True}
    app_workers = None  # started below, once the replica's URL is known

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.stack
        try:
            s.start_app(workers=2, env=dict(BASE_ENV, FL_ADMIN_TOKEN=ADMIN_TOKEN,
                                            FL_MYSQL_READ_URL=s.replica_url))
            rows = make_products(random.Random(11), next_id(s), 60, year=2022, sku_prefix="R")
            insert_products(s, rows)
            s.replica_sync()
            flush_cache(s)
        except BaseException:
            s.dump_logs()
            raise

    def setUp(self):
        flush_cache(self.stack)

    def reads(self):
        r = self.get("/api/metrics")
        self.assertEqual(r.status, 200, r)
        m = parse(r.text)
        return {k: m.get(k, 0) for k in (REPLICA, PASSED_OVER, BEHIND)}

    def admin_patch(self, pid, body):
        return self.request("PATCH", "/api/products/%d" % pid, body=body,
                            headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                                     "Content-Type": "application/json"})

    def replica_statements(self):
        return int(self.stack.replica_sql("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")[0][1])

    def some_id(self):
        return min(snapshot(self.stack))

    def until_replica_serves(self, timeout=10.0):
        """Fresh misses until one is read on the replica (after a pass-over ends)."""
        def served():
            before = self.reads()[REPLICA]
            self.listing({"limit": str(random.randint(30, 90))})
            return self.reads()[REPLICA] > before
        self.assertTrue(poll(served, timeout=timeout, interval=0.2), "reads never went back to the replica")

    def test_reads_run_on_the_replica_and_ask_the_primary_only_its_position(self):
        s = self.stack
        snap = snapshot(s)
        before, primary0, replica0 = self.reads(), com_stmt_execute(s), self.replica_statements()
        ids = self.walk({"sort": "price_asc"}, limit=7, snap=snap)
        self.assertEqual(sorted(ids), sorted(snap))
        pid = self.some_id()
        r = self.get("/api/products/%d" % pid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"], snap[pid])
        n = math.ceil(len(ids) / 7) + 1  # the listing's pages, GET by id
        after = self.reads()
        self.assertEqual(after[REPLICA] - before[REPLICA], n, after)
        self.assertEqual(after[PASSED_OVER] - before[PASSED_OVER], 0, after)
        # On the primary: one position lookup per read and nothing else; the rows come
        # from the replica (a wait, then at least one statement, per read).
        self.assertEqual(com_stmt_execute(s) - primary0, n)
        self.assertGreaterEqual(self.replica_statements() - replica0, 2 * n)

    def test_a_write_shows_in_the_next_read_while_the_replica_lags(self):
        s = self.stack
        pid = self.some_id()
        self.get("/api/products/%d" % pid)
        self.listing({"search": "zanzibarite"})  # cached empty before the write
        s.replica_pause()
        try:
            before = self.reads()
            r = self.admin_patch(pid, '{"name": "Zanzibarite lagging test"}')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.get("/api/products/%d" % pid).json()["data"]["name"],
                             "Zanzibarite lagging test")
            r, body = self.listing({"search": "zanzibarite"})
            self.assertEqual([p["id"] for p in body["data"]], [pid], r)
            self.assertEqual(r.headers.get("X-Cache"), "MISS", r)
            r, body = self.listing({"search": "zanzibarite"})
            self.assertEqual([p["id"] for p in body["data"]], [pid], "cached from the primary: %r" % r)
            self.assertEqual(r.headers.get("X-Cache"), "HIT", r)
            self.assertNotEqual(s.replica_sql("SELECT name FROM farmlokal.products WHERE id = %d" % pid),
                                [["Zanzibarite lagging test"]], "the replica was meant to lag")
            after = self.reads()
            self.assertGreaterEqual(after[PASSED_OVER] - before[PASSED_OVER], 2, after)
            self.assertEqual(after[REPLICA] - before[REPLICA], 0, after)
        finally:
            s.replica_resume()
        s.replica_sync()
        self.until_replica_serves()
        r, body = self.listing({"search": "zanzibarite", "sort": "name_asc"})
        self.assertEqual([p["id"] for p in body["data"]], [pid], r)

    def test_replica_down_the_primary_serves(self):
        s = self.stack
        snap = snapshot(s)
        s.replica_kill()
        try:
            before = self.reads()
            for limit in (3, 4, 5):
                t = time.monotonic()
                r, body = self.listing({"limit": str(limit), "sort": "oldest"})
                self.assertLess(time.monotonic() - t, 2.0, "a read waited on the dead replica")
                self.assertEqual(r.headers.get("X-Cache"), "MISS", r)
                for p in body["data"]:
                    self.assertProduct(p, snap)
            self.assertGreaterEqual(self.reads()[PASSED_OVER] - before[PASSED_OVER], 3)
            h = self.get("/api/health")
            self.assertEqual(h.status, 200, h)
            self.assertEqual(h.json()["status"], "degraded", h)
            self.assertEqual(h.json()["checks"]["mysql_replica_1"]["status"], "fail", h)
        finally:
            s.replica_start()
        s.replica_sync()
        self.until_replica_serves()
        for _ in range(4):  # each worker's pings see it back
            h = poll(lambda: (lambda h: h if h.json()["status"] == "ok" else None)(self.get("/api/health")),
                     timeout=5.0, interval=0.2)
            self.assertTrue(h, "health did not recover")
            self.assertEqual(h.json()["checks"]["mysql_replica_1"]["status"], "ok", h)

    def test_primary_down_the_replica_serves_uncached(self):
        s = self.stack
        snap = snapshot(s)
        pid = self.some_id()
        s.replica_sync()
        s.mysql_kill()
        try:
            before = self.reads()
            for _ in range(2):
                r, body = self.listing({"limit": "6", "sort": "newest"})
                self.assertEqual(r.headers.get("X-Cache"), "BYPASS", "rows maybe behind were cached: %r" % r)
                self.assertEqual(len(body["data"]), 6, r)
                for p in body["data"]:
                    self.assertProduct(p, snap)
            r = self.get("/api/products/%d" % pid)
            self.assertEqual((r.status, r.json()["data"]), (200, snap[pid]), r)
            self.assertGreaterEqual(self.reads()[BEHIND] - before[BEHIND], 3)
            r = self.admin_patch(pid, '{"stock": 5}')
            self.assertEqual(r.status, 503, r)  # writes need the primary
            self.assertEqual(self.get("/api/health").status, 503)
        finally:
            s.mysql_start()
        r = poll(lambda: self.admin_patch(pid, '{"stock": 6}').status == 200, timeout=10.0, interval=0.2)
        self.assertTrue(r, "the primary did not come back")
        s.replica_sync()
        self.until_replica_serves()
        self.assertEqual(self.get("/api/products/%d" % pid).json()["data"]["stock"], 6)


if __name__ == "__main__":
    unittest.main()
