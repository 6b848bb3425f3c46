# SPDX-License-Identifier: MIT
"""Near copies (issue #12): a worker serves a hot page from its own copy of the Redis entry,
without asking Redis for it, while Redis's watch on the cache generation (CLIENT TRACKING)
has told of no change. What a user must never notice: a listing asked for after a write was
answered shows the write, on every worker, also while Redis dies."""

import os
import random
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_catalog import (ADMIN_TOKEN, BASE_ENV, CatalogMixin, flush_cache, insert_products,  # noqa: E402
                          listing_path, make_products, next_id)

PAGE = {"limit": "10", "sort": "newest"}


class Reader:
    """Threads reading PAGE as fast as they can, each answer noted with when it was asked."""

    def __init__(self, stack, threads=3):
        self.stack, self.seen, self.failed = stack, [], []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self):
        while not self.stop.is_set():
            asked = time.monotonic()
            r = self.stack.get(listing_path(PAGE))
            if r.status != 200:
                self.failed.append(r)
                continue
            self.seen.append((asked, r.headers.get("X-Cache"), r.json()["data"]))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def asked_after(self, t):
        return [(source, data) for asked, source, data in self.seen if asked > t]


class NearCopiesTest(CatalogMixin, harness.StackTestCase):
    app_workers = 4
    # Entries fresh for a second: a hot page is rebuilt while the tests read it.
    app_env = dict(BASE_ENV, FL_ADMIN_TOKEN=ADMIN_TOKEN, FL_CACHE_TTL="1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        insert_products(cls.stack, make_products(random.Random(12), next_id(cls.stack), 60,
                                                 sku_prefix="N", lot_words=False))
        flush_cache(cls.stack)

    def admin_patch(self, pid, body):
        r = self.request("PATCH", "/api/products/%d" % pid, body=body,
                         headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        self.assertEqual(r.status, 200, r)

    def near_hits(self):
        m = re.search(r"^farmlokal_cache_near_hits_total (\d+)", self.get("/api/metrics").text, re.M)
        return int(m.group(1))

    def entry_reads(self):
        stats = self.stack.redis("INFO", "commandstats")
        m = re.search(r"^cmdstat_get:calls=(\d+)", stats, re.M)
        return int(m.group(1)) if m else 0

    def test_a_hot_page_is_not_read_from_redis_on_every_hit(self):
        first, _ = self.listing(PAGE)
        before, near, hits = self.entry_reads(), self.near_hits(), 0
        end = time.monotonic() + 3  # the entry is rebuilt twice or three times meanwhile
        while time.monotonic() < end:
            r, _ = self.listing(PAGE)
            self.assertEqual(r.body, first.body, r)
            hits += r.headers.get("X-Cache") == "HIT"
        # Without near copies every hit reads two keys (the generation and the entry).
        reads = self.entry_reads() - before
        self.assertGreater(hits, 50, "too few hits to tell")
        self.assertLess(reads, hits, "%d GETs in Redis for %d hits" % (reads, hits))
        # What an admin reads of it: most hits were near ones.
        self.assertGreater(self.near_hits() - near, hits // 2)

    def check_every_read_after(self, change, pid, stock):
        """Under readers on every worker, change() writes stock to product pid; every
        listing asked for after change() returned shows it."""
        with Reader(self.stack) as reader:
            time.sleep(0.3)  # every worker holds a near copy of PAGE
            change()
            done = time.monotonic()
            time.sleep(0.5)
        self.assertEqual(reader.failed, [])
        after = reader.asked_after(done)
        self.assertGreater(len(after), 10, "too few reads to tell")
        stale = [source for source, data in after
                 if next(p["stock"] for p in data if p["id"] == pid) != stock]
        self.assertEqual(stale, [], "%d of %d reads after the write were stale" % (len(stale), len(after)))

    def test_every_read_after_a_write_sees_it(self):
        _, body = self.listing(PAGE)
        pid = body["data"][3]["id"]
        for stock in (501, 502, 503):
            with self.subTest(stock=stock):
                self.check_every_read_after(lambda: self.admin_patch(pid, {"stock": stock}), pid, stock)

    def test_redis_dying_drops_the_copies(self):
        _, body = self.listing(PAGE)
        pid = body["data"][5]["id"]

        def kill_and_write():
            self.stack.redis_kill()
            self.admin_patch(pid, {"stock": 777})  # nobody can bump the generation now
        try:
            self.check_every_read_after(kill_and_write, pid, 777)
        finally:
            self.stack.redis_start()


if __name__ == "__main__":
    unittest.main()
