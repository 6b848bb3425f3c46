# SPDX-License-Identifier: MIT
"""GET /metrics as a scraper sees it: Prometheus text, route templates (never raw paths),
counts summed over every worker, including one that was replaced."""
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def parse(text):
    """{'name{labels}': value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class MetricsTest(harness.StackTestCase):
    app_workers = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.ctl("seed", "--rows", "30")

    def scrape(self):
        r = self.get("/api/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers)
        return parse(r.text)

    def test_requests_are_counted_by_route_template(self):
        before = self.scrape()
        for _ in range(5):
            self.assertEqual(self.get("/api/health/live").status, 200)
        self.assertEqual(self.get("/api/products/7").status, 200)
        self.assertEqual(self.get("/api/products/abc").status, 400)
        self.assertEqual(self.get("/api/no/such/thing").status, 404)
        self.assertEqual(self.request("DELETE", "/api/health").status, 405)
        after = self.scrape()

        def delta(key):
            return after.get(key, 0) - before.get(key, 0)

        self.assertEqual(delta('http_requests_total{method="GET",route="/health/live",status="200"}'), 5)
        self.assertEqual(delta('http_requests_total{method="GET",route="/products/{id}",status="200"}'), 1)
        self.assertEqual(delta('http_requests_total{method="GET",route="/products/{id}",status="400"}'), 1)
        self.assertEqual(delta('http_requests_total{method="GET",route="unmatched",status="404"}'), 1)
        # A wrong method on a known path is counted under that path's route.
        self.assertEqual(delta('http_requests_total{method="DELETE",route="/health",status="405"}'), 1)
        self.assertGreaterEqual(delta('http_request_duration_seconds_count{route="/health/live"}'), 5)
        self.assertFalse([k for k in after if "/products/7" in k or "no/such" in k], "raw paths leaked")
        self.assertEqual(after["farmlokal_workers_alive"], 2)

    def test_cache_results_are_counted(self):
        before = self.scrape()
        self.get("/api/products?limit=3&sort=oldest")
        self.get("/api/products?limit=3&sort=oldest")
        after = self.scrape()
        self.assertEqual(after['farmlokal_cache_requests_total{result="miss"}']
                         - before.get('farmlokal_cache_requests_total{result="miss"}', 0), 1)
        self.assertEqual(after['farmlokal_cache_requests_total{result="hit"}']
                         - before.get('farmlokal_cache_requests_total{result="hit"}', 0), 1)
        self.assertGreater(after["farmlokal_db_queries_total"], 0)

    def test_counts_survive_a_replaced_worker(self):
        s = self.stack
        for _ in range(20):
            self.get("/api/health/live")
        total = self.scrape()['http_requests_total{method="GET",route="/health/live",status="200"}']
        old = s.worker_pids()
        for pid in old:
            os.kill(pid, signal.SIGTERM)
        s.wait_workers(2, exclude=old, timeout=10)
        time.sleep(0.2)
        after = self.scrape()
        self.assertGreaterEqual(after['http_requests_total{method="GET",route="/health/live",status="200"}'], total)
        self.assertEqual(after["farmlokal_workers_alive"], 2)
        self.assertTrue(re.search(r"farmlokal_circuit_state\{upstream=\"api_a\"\} 0", "\n".join(
            "%s %d" % (k, v) for k, v in after.items())))


if __name__ == "__main__":
    unittest.main()
