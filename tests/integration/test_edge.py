# SPDX-License-Identifier: MIT
"""The edge tier of the shipped nginx snippet (SPEC "Caching tiers"), as clients see it:
anonymous listings and product pages answered by nginx's cache for FL_EDGE_TTL_S, with no
other client's RateLimit values or request id; an admin's write visible at once to an
authorized read and within the TTL to anonymous ones; 304 at the edge; stored pages served
while the pool is down; pages compressed once and kept so in Redis and at the edge, sent
as gzip or plain as the client asks; nginx's limit_req on that path."""

import gzip
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ADMIN_TOKEN = "tst-admin-0123456789abcdef-edge"
EDGE_TTL_S = 1
LAG_SLACK_S = 0.2  # an anonymous read sees a write within FL_EDGE_TTL_S + this
EDGE_RATE = 50     # nginx's limit per client address on the edge path, requests per second
EDGE_BURST = 200   # limit_req's burst in farmlokal-location.conf


class EdgeTest(harness.StackTestCase):
    stack_options = {"edge_ttl_s": EDGE_TTL_S, "edge_rate": EDGE_RATE}
    app_env = {"FL_ADMIN_TOKEN": ADMIN_TOKEN, "FL_RATE_LIMIT": "1000", "FL_RATE_BURST": "2000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.ctl("seed", "--rows", "300")

    def setUp(self):
        time.sleep(EDGE_TTL_S + 0.1)  # whatever an earlier test left at the edge expired

    def test_edge_hit_carries_this_clients_values_only(self):
        path = "/api/products?limit=5&sort=oldest"
        first = self.get(path, headers={"X-Request-Id": "client-a-1"})
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.headers.get("X-Edge-Cache"), "MISS", first)
        self.assertIn(first.headers.get("X-Cache"), ("MISS", "HIT"), first)
        self.assertEqual(first.headers.get("X-Request-Id"), "client-a-1", first)
        hit = self.get(path, headers={"X-Request-Id": "client-b-1"})
        self.assertEqual(hit.status, 200, hit)
        self.assertEqual(hit.headers.get("X-Edge-Cache"), "HIT", hit)
        self.assertEqual(hit.body, first.body)
        self.assertEqual(hit.headers.get("X-Request-Id"), "client-b-1", hit)
        self.assertEqual(hit.headers.get("Server-Timing"), 'edge;desc="HIT"', hit)
        self.assertIsNone(hit.headers.get("X-Cache"), hit)  # Redis had no part in it
        anonymous = self.get(path)
        self.assertEqual(anonymous.headers.get("X-Edge-Cache"), "HIT", anonymous)
        self.assertRegex(anonymous.headers.get("X-Request-Id"), r"^[0-9a-f]{32}$")
        for r in (first, hit, anonymous):
            self.assertNotIn("RateLimit", r.headers, r)
            self.assertNotIn("RateLimit-Policy", r.headers, r)
            self.assertNotIn("X-Accel-Expires", r.headers, r)
        # A request the edge leaves alone keeps the app's limiter and its fields.
        authorized = self.get(path, headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        self.assertEqual(authorized.headers.get("X-Edge-Cache"), "BYPASS", authorized)
        self.assertIn("RateLimit", authorized.headers, authorized)
        self.assertIn("total;dur=", authorized.headers.get("Server-Timing"), authorized)

    def test_the_app_takes_nginx_request_id(self):
        # A problem from the app names the id nginx logged and sent: one id per request.
        r = self.get("/api/products?limit=500")
        problem = self.assertProblem(r, 400)
        self.assertRegex(problem["request_id"], r"^[0-9a-f]{32}$")
        quoted = self.get("/api/products?limit=500", headers={"X-Request-Id": 'a"b'})
        self.assertRegex(self.assertProblem(quoted, 400)["request_id"], r"^[0-9a-f]{32}$")

    def test_admin_write_shows_at_once_when_authorized_and_within_ttl_anonymously(self):
        path = "/api/products/7"
        auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
        self.get(path)
        self.assertEqual(self.get(path).headers.get("X-Edge-Cache"), "HIT")
        name = "Edge Test Radish %d" % time.monotonic_ns()
        patched = self.request("PATCH", path, body={"name": name}, headers=auth)
        self.assertEqual(patched.status, 200, patched)
        written = time.monotonic()
        mine = self.get(path, headers=auth)
        self.assertEqual(mine.json()["data"]["name"], name, mine)
        seen = harness.poll(lambda: self.get(path).json()["data"]["name"] == name,
                            timeout=EDGE_TTL_S + 2, interval=0.02)
        lag = time.monotonic() - written
        self.assertTrue(seen, "an anonymous read never saw the write")
        self.assertLessEqual(lag, EDGE_TTL_S + LAG_SLACK_S)

    def test_304_at_the_edge(self):
        path = "/api/products?limit=3&category=fruits"
        first = self.get(path)
        etag = first.headers.get("ETag")
        self.assertTrue(etag, first)
        r = self.get(path, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.headers.get("X-Edge-Cache"), "HIT", r)
        self.assertEqual(r.body, b"")

    def test_gzip_decodes_to_the_same_bytes(self):
        path = "/api/products?limit=20&sort=price_desc"
        gz = {"Accept-Encoding": "gzip, deflate, br"}
        plain = self.get(path)
        packed = self.get(path, headers=gz)
        # Compressed once by the app when it built the page: Redis hands out the same entry.
        self.assertEqual(packed.headers.get("X-Cache"), "HIT", packed)
        self.assertEqual(packed.headers.get("Content-Encoding"), "gzip", packed)
        self.assertIsNone(plain.headers.get("Content-Encoding"), plain)
        self.assertEqual(gzip.decompress(packed.body), plain.body)
        self.assertLess(len(packed.body), len(plain.body) / 2)
        again = self.get(path, headers={"Accept-Encoding": "gzip"})
        self.assertEqual(again.headers.get("X-Edge-Cache"), "HIT", again)
        self.assertEqual(again.body, packed.body)
        self.assertEqual(self.get(path).body, plain.body)  # each form kept apart at the edge
        for r in (plain, packed, again):
            self.assertEqual(r.headers.get_all("Vary"), ["Accept-Encoding"], r)
        # One ETag per representation, each revalidating at the edge.
        self.assertNotEqual(packed.headers["ETag"], plain.headers["ETag"])
        for headers, r in ((gz, packed), ({}, plain)):
            cond = self.get(path, headers=dict(headers, **{"If-None-Match": r.headers["ETag"]}))
            self.assertEqual(cond.status, 304, cond)

    def test_redis_keeps_pages_compressed(self):
        plain = self.get("/api/products?limit=20&sort=name_asc&category=vegetables")
        self.assertEqual(plain.status, 200, plain)
        keys = self.stack.redis("--scan", "--pattern", "fl:gz:*").split()
        sizes = [int(self.stack.redis("MEMORY", "USAGE", k)) for k in keys]
        self.assertTrue(sizes, "no page in Redis")
        self.assertLess(max(sizes), len(plain.body) * 0.6, (sizes, len(plain.body)))

    def test_limit_req_on_the_edge_path(self):
        path = "/api/products?limit=1&sort=name_asc"
        # The bucket refills at EDGE_RATE while the requests go out (one at a time, slower on
        # a busy machine): a refusal is due once more than the burst plus the refill so far
        # were sent, with 10% to spare.
        rs, start = [], time.monotonic()
        while not rs or rs[-1].status != 429:
            due = (EDGE_BURST + EDGE_RATE * (time.monotonic() - start)) * 1.1
            self.assertLessEqual(len(rs), min(due, 10 * EDGE_BURST), "no request over the burst was refused")
            rs.append(self.get(path))
        self.assertEqual(rs[0].status, 200, rs[0])
        refused = [r for r in rs if r.status == 429]
        problem = self.assertProblem(refused[0], 429)
        self.assertTrue(problem["type"].endswith("quota-exceeded"), problem)
        self.assertEqual(refused[0].headers.get("Retry-After"), "1", refused[0])
        # Requests off the edge path are the app's to limit: /health is never limited.
        self.assertEqual(self.get("/api/health/live").status, 200)
        time.sleep(EDGE_BURST / EDGE_RATE + 0.5)  # the burst refills for the other tests

    def test_pool_down_stored_pages_stale_others_a_problem(self):
        stored = "/api/products?limit=4&sort=newest"
        self.assertEqual(self.get(stored).status, 200)
        self.stack.stop_app()
        try:
            time.sleep(EDGE_TTL_S + 0.1)
            r = self.get(stored)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("X-Edge-Cache"), "STALE", r)
            other = self.get("/api/products?limit=4&sort=oldest&category=dairy")
            self.assertEqual(other.status, 502, other)
            self.assertEqual(other.content_type, "application/problem+json", other)
            self.assertEqual(other.json()["status"], 502)
            self.assertEqual(other.json()["request_id"], other.headers.get("X-Request-Id"))
        finally:
            self.stack.start_app(workers=self.app_workers, env=self.app_env)


class EdgeOffTest(harness.StackTestCase):
    """FL_EDGE_TTL_S=0 (deploy/local/up: FL_EDGE_CACHE=off): every request reaches the app,
    with its own RateLimit fields and Server-Timing."""

    stack_options = {"edge_ttl_s": 0}
    app_env = {"FL_RATE_LIMIT": "1000", "FL_RATE_BURST": "2000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.ctl("seed", "--rows", "20")

    def test_every_request_reaches_the_app(self):
        for _ in range(2):
            r = self.get("/api/products?limit=2")
            self.assertEqual(r.status, 200, r)
            self.assertIsNone(r.headers.get("X-Edge-Cache"), r)
            self.assertIn("RateLimit", r.headers, r)
            self.assertTrue(re.search(r"total;dur=", r.headers.get("Server-Timing")), r)
        packed = self.get("/api/products?limit=2", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(packed.headers.get("Content-Encoding"), "gzip", packed)
        self.assertEqual(gzip.decompress(packed.body), r.body)

    def test_plain_redis_hits_each_get_their_own_page(self):
        # A worker keeps the pages it decompressed lately for plain clients: however the
        # pages alternate, each is answered with its own body.
        paths = ["/api/products?limit=%d&sort=%s" % p for p in ((3, "newest"), (5, "price_asc"),
                                                              (3, "name_asc"), (20, "newest"))]
        want = {p: gzip.decompress(self.get(p, headers={"Accept-Encoding": "gzip"}).body) for p in paths}
        self.assertEqual(len(set(want.values())), len(paths))
        for _ in range(3):
            for p in paths:
                r = self.get(p)
                self.assertEqual(r.headers.get("X-Cache"), "HIT", r)
                self.assertIsNone(r.headers.get("Content-Encoding"), r)
                self.assertEqual(r.body, want[p], p)


if __name__ == "__main__":
    unittest.main()
