# SPDX-License-Identifier: MIT
"""A crawler walking distinct pages fills the cache (issue #15, finding 6: every distinct
cursor is its own entry). Redis, run with the maxmemory policy every shipped recipe sets,
evicts cache pages and keeps what must stay while it is in use: the OAuth token the workers
share (no second token request) and the cache generation; no write to Redis fails, and the
cache keeps serving hits."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_integrations import UpstreamTestCase  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAXMEMORY = "4mb"   # small, so a few hundred pages fill it; the recipes set 256mb
PAGES = 800         # limit=100 pages, about 10 KB each in Redis (gzip)
TOKEN_KEY = "fl:oauth:token"
GEN_KEY = "fl:products:gen"


def shipped_policy():
    """The eviction policy of deploy/local/up's Redis, which docker-compose.yml must share."""
    with open(os.path.join(ROOT, "deploy", "local", "up")) as f:
        local = re.search(r"^maxmemory-policy (\S+)$", f.read(), re.M)
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        compose = re.search(r'"--maxmemory-policy", "([^"]+)"', f.read())
    assert local and compose, "a shipped Redis has no maxmemory-policy"
    assert local.group(1) == compose.group(1), (local.group(1), compose.group(1))
    return local.group(1)


class RedisMemoryTest(UpstreamTestCase):
    workers = 2

    @classmethod
    def prepare(cls):
        cls.stack.seed(2000)
        cls.stack.redis("CONFIG", "SET", "maxmemory-policy", shipped_policy())
        cls.stack.redis("CONFIG", "SET", "maxmemory", MAXMEMORY)

    def redis_errors(self):
        text = self.get("/api/metrics").text
        return int(re.search(r"^farmlokal_redis_errors_total (\d+)", text, re.M).group(1))

    def test_a_crawler_evicts_pages_not_the_token_or_the_generation(self):
        self.mock.reset("oauth", "api_a")
        self.assertEqual(self.external(self.new_id("mem")).status, 200)
        errors = self.redis_errors()
        for i in range(PAGES):
            r = self.get("/api/products?limit=100&minPrice=%d.%02d" % (1 + i % 300, i // 300))
            self.assertEqual(r.status, 200, r)
            if i % 25 == 0:  # the upstream traffic that keeps using the shared token
                self.assertEqual(self.external(self.new_id("mem")).status, 200)
        stats = self.stack.redis("INFO", "stats")
        evicted = int(re.search(r"^evicted_keys:(\d+)", stats, re.M).group(1))
        self.assertGreater(evicted, 0, "the crawl did not fill Redis: nothing to show")
        self.assertEqual(self.stack.redis("EXISTS", TOKEN_KEY), "1", "the shared token was evicted")
        self.assertEqual(self.stack.redis("EXISTS", GEN_KEY), "1", "the cache generation was evicted")
        self.assertEqual(len(self.mock.token_requests()), 1, "a second token request")
        self.assertEqual(self.redis_errors(), errors, "a write to Redis failed")
        page = "/api/products?limit=100&minPrice=300.00"
        self.get(page)
        self.assertEqual(self.get(page).headers.get("X-Cache"), "HIT")


if __name__ == "__main__":
    unittest.main()
