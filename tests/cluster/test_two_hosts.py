# SPDX-License-Identifier: MIT
"""Two hosts, each with its own nginx and pool, on one data tier (ClusterStack(hosts=2)):
what must hold across hosts because its state is in Redis or MySQL, not in a host.

- One token: 100 concurrent requests to /products/external/ spread over both hosts, with no
  token anywhere, make exactly one request to the OAuth provider.
- One breaker: API A failing for requests of both hosts (five in all, fewer from each) opens
  the breaker of both: each host then answers 503 + Retry-After without calling API A.
- An admin write through host 1 is seen at once by an authorized read on host 2, though
  host 2 had the page in Redis and at its edge.
- Redis under Sentinel: after the primary is SIGKILLed and the replica promoted, with both
  hosts under load, the token is still fetched once for both hosts, and rate limiting
  resumes with one count per client across the hosts.

Run: FL_BUILD_DIR=/abs/build python3 tests/cluster/test_two_hosts.py -v
"""

import concurrent.futures
import itertools
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
from test_catalog import ADMIN_TOKEN  # noqa: E402
from test_integrations import BREAKER_KEYS, Upstreams, upstream_env  # noqa: E402

WORKERS = 2  # per host
TOKEN_KEYS = ("fl:oauth:token", "fl:oauth:lock")
RATE, BURST = 20, 20  # per client
LOAD_RATE = 10  # listings per second on each host, each load a client of its own
CACHED = "/api/products?limit=20&category=vegetables"  # one of the load's cached listings
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}


class TwoHostsCase(cluster.ClusterTestCase):
    """Two hosts with the mock upstreams; `env` adds to the apps' settings."""

    cluster_options = {"hosts": 2}
    env = {}

    @classmethod
    def prepare(cls):
        s = cls.stack
        s.seed(300)
        cls.mock = Upstreams(s)
        cls.addClassCleanup(cls.mock.stop)  # before the stack's own cleanup
        cls.mock.start()
        cls.start_apps()

    @classmethod
    def start_apps(cls):
        cls.stack.start_apps(WORKERS, upstream_env(cls.mock, dict(
            {"FL_ADMIN_TOKEN": ADMIN_TOKEN, "FL_API_A_MAX_INFLIGHT": str(WORKERS)}, **cls.env)))

    def burst(self, tag, n=100, threads=50):
        """n concurrent GET /products/external/ (threads at once), host 1 and host 2 in
        turn, each from a client of its own (under any rate limit); the responses."""
        def one(i):
            return self.stack.hosts[i % 2].get("/api/products/external/%s-%d" % (tag, i), timeout=30,
                                               headers={"X-Forwarded-For": "198.51.100.%d" % i})
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, range(n)))

    def assertOneTokenFor(self, responses):
        """Every response is 200 and API A saw one token, from the one token request."""
        bad = [r for r in responses if r.status != 200]
        self.assertEqual(bad, [], "%d of %d failed" % (len(bad), len(responses)))
        tokens = self.mock.token_requests()
        self.assertEqual(len(tokens), 1, "token requests: %s" % [t.get("token") for t in tokens])
        used = {e["headers"].get("authorization") for e in self.mock.requests("api_a")}
        self.assertEqual(used, {"Bearer " + tokens[0]["token"]})


class TwoHostsTest(TwoHostsCase):
    cluster_options = {"hosts": 2, "edge_ttl_s": 1}
    # No retries: each failure of API A is one failed request; the breaker stays open 30 s.
    env = {"FL_API_A_RETRIES": "0", "FL_API_A_BREAKER_OPEN_MS": "30000"}

    def setUp(self):
        self.mock.reset("oauth", "api_a")
        self.stack.redis("DEL", *BREAKER_KEYS)

    def tearDown(self):
        self.stack.redis("DEL", *BREAKER_KEYS)
        super().tearDown()

    def test_two_hosts_share_one_token(self):
        s = self.stack
        for host in s.hosts:  # workers that never held a token ...
            host.stop_app()
        s.redis("DEL", *TOKEN_KEYS)  # ... and none in Redis
        self.start_apps()
        self.mock.config("oauth", delay=0.3)  # every worker asks while the fetch runs
        self.assertOneTokenFor(self.burst("shared"))

    def test_two_hosts_share_one_breaker(self):
        s = self.stack
        for i in range(5):  # three failures through host 1, two through host 2
            item = "fail-%d" % i
            self.mock.script(item, [{"status": 500}])
            self.assertProblem(s.hosts[i % 2].get("/api/products/external/" + item), 502)
        for n, host in enumerate(reversed(s.hosts)):
            item = "refused-%d" % n
            r = host.get("/api/products/external/" + item)
            self.assertProblem(r, 503)
            self.assertRegex(r.headers.get("Retry-After") or "", r"^[1-9]\d*$", r)
            self.assertEqual(self.mock.api_a_requests(item), [], "an open breaker called API A")

    def test_write_on_one_host_is_read_on_the_other(self):
        s = self.stack
        other = s.hosts[1]
        listing = "/api/products?limit=5"
        product = other.get(listing).json()["data"][0]
        page = "/api/products/%d" % product["id"]
        for path in (listing, page):  # host 2 has both in Redis and at its edge
            for _ in range(2):
                self.assertEqual(other.get(path).status, 200)
        stock = product["stock"] + 777
        r = s.request("PATCH", page, body={"stock": stock}, headers=ADMIN)
        self.assertEqual(r.status, 200, r)
        r = other.get(page, headers=ADMIN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["stock"], stock, r)
        r = other.get(listing, headers=ADMIN)
        self.assertEqual([p["stock"] for p in r.json()["data"] if p["id"] == product["id"]],
                         [stock], r)


class TwoHostsSentinelTest(TwoHostsCase):
    cluster_options = {"hosts": 2, "sentinels": True}
    env = {"FL_RATE_LIMIT": str(RATE), "FL_RATE_BURST": str(BURST),
           "FL_TRUSTED_PROXIES": "127.0.0.1"}

    @classmethod
    def start_apps(cls):
        cls.env = dict(cls.env, FL_REDIS_URL=cls.stack.sentinel_url)
        super().start_apps()

    def limited(self, client):
        """Listings as one client from 8 threads at once, host 1 and host 2 in turn, until
        both hosts have refused it or 20 x BURST were sent: (429s from each host, 200s in
        all, seconds it took)."""
        statuses, sent = [[], []], itertools.count()

        def one():
            for i in sent:
                if i >= 20 * BURST or all(statuses[h].count(429) for h in (0, 1)):
                    return
                statuses[i % 2].append(self.stack.hosts[i % 2].get(
                    "/api/products?limit=5", headers={"X-Forwarded-For": client}).status)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for done in [pool.submit(one) for _ in range(8)]:
                done.result()
        seconds = time.monotonic() - t0
        self.assertEqual(set(statuses[0] + statuses[1]) - {200, 429}, set(), statuses)
        return [h.count(429) for h in statuses], sum(h.count(200) for h in statuses), seconds

    def test_after_a_failover_one_token_and_one_limit_for_both_hosts(self):
        s = self.stack
        self.assertEqual(self.mock.token_requests(), [], "a token was fetched before the test")
        loads = [cluster.load.Load(host, [], mix={"cached": 1}, threads=2, rate=LOAD_RATE,
                                   headers={"X-Forwarded-For": "192.0.2.%d" % (10 + n)})
                 for n, host in enumerate(s.hosts)]
        for run in loads:
            run.start()
        try:
            time.sleep(2)
            primary, took = s.redis_failover()
            self.assertIsNotNone(took, "the sentinels did not promote the replica")
            # Every worker of both hosts on the new primary (a worker without Redis would
            # fetch a token of its own), and cache hits on both hosts again.
            workers = cluster.wait_until(
                lambda: s.app_redis_clients(primary) >= WORKERS * len(s.hosts), timeout=20)
            hits = cluster.wait_until(lambda: all(
                h.get(CACHED, headers={"X-Forwarded-For": "192.0.2.1"}).headers.get("X-Cache") == "HIT"
                for h in s.hosts), timeout=10, interval=0.2)
        finally:
            for run in loads:
                run.stop()
        sys.stderr.write("promotion %.2f s after the kill; every worker on it %s s later\n"
                         % (took, workers and round(workers, 2)))
        for n, run in enumerate(loads, 1):
            report = run.report("host %d, Redis primary SIGKILLed" % n)
            self.assertEqual(report.failures("cached"), {}, str(report))
        self.assertIsNotNone(workers, "not every worker connected to the new primary")
        self.assertIsNotNone(hits, "no cache hits on both hosts after the failover")

        self.mock.config("oauth", delay=0.3)
        self.assertOneTokenFor(self.burst("failover"))

        refused, served, seconds = self.limited("203.0.113.7")
        sys.stderr.write("one client, listings over both hosts for %.2f s: %d served, 429s "
                         "from host 1 and 2: %s\n" % (seconds, served, refused))
        self.assertTrue(all(refused), "a host never refused the client: %s" % refused)
        # One count for both hosts: no more than one burst plus the rate over the run;
        # a count per host would have let through about twice that.
        self.assertLessEqual(served, BURST + RATE * seconds + 2,
                             "%d served in %.2f s: the hosts count apart" % (served, seconds))


if __name__ == "__main__":
    unittest.main()
