# SPDX-License-Identifier: MIT
"""A MariaDB Galera cluster of three nodes (FL_MYSQL_URL listing all three) under signed
webhook deliveries and a listing load, and one node SIGKILLed meanwhile.

Two hosts, each its own nginx and pool: host A's lists the nodes 1, 2, 3 and so writes on
node 1, host B's lists 2, 3, 1 and writes on node 2. Deliveries are spread over both hosts
and a redelivery goes to the other host than its first delivery, so the two write on
different nodes and, sent at once, meet as a Galera certification conflict. Node 2 is
SIGKILLed mid-run: host B's workers move to node 3, and every node stalls its commits
until the survivors evict it. The sender, as API B does, resends a delivery answered 503
(or not answered) until it is answered 200. Then:
- every event is recorded exactly once in webhook_events, as applied, and no event was
  answered "success" twice;
- each product holds the values of its newest event, on both surviving nodes;
- the listings were served throughout: none failed (a worker whose commit stalled while the
  survivors evicted the node moves to the next node rather than trip its breaker);
- /health names the node a worker uses and says it is ready; /metrics has the gauge;
- then node 3 is cut off from node 1 (gmcast.isolate): it refuses queries (error 1047) and
  the workers on it move to node 1 without failing a listing or a webhook.

A small test before it checks the multi-host failover without Galera: a URL whose first
host refuses connections.

Run: FL_BUILD_DIR=/abs/build python3 tests/cluster/test_galera.py -v
"""

import collections
import contextlib
import datetime
import json
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
import load  # noqa: E402
from test_integrations import WEBHOOK_PATH, WEBHOOK_SECRET  # noqa: E402

EVENTS = 7000
DELIVERIES = 10000  # the EVENTS first deliveries, and redeliveries of some of them at once
SENDERS = 8
PRODUCTS = 64  # each sender owns PRODUCTS / SENDERS of them: its events are newest in turn
KILL_AFTER = 0.35  # node 2 dies once this share of the events was sent
TRIES = 300  # a delivery is resent at most this often (100 ms apart)
RUN_MAX_S = 180  # the senders give up then, so a cluster that never recovers fails, not hangs


def failover_cost(killed_at, webhooks_refused, listings_failed):
    """What losing a node cost: webhook tries not answered 200 (the sender resent them),
    listings failed, and the seconds from the kill to the end of the last of either."""
    after = [t - killed_at for t in webhooks_refused + listings_failed if t >= killed_at]
    return {"webhooks_resent": len(webhooks_refused), "listings_failed": len(listings_failed),
            "recovered_s": round(max(after, default=0.0), 2)}


class Sender(threading.Thread):
    """Sends its share of the events, each to its own products in order, resending a delivery
    until it is answered 200; now and then a second thread delivers the same event at the
    same moment (a redelivery racing the first). .answers maps event_id to the 200 bodies."""

    def __init__(self, failover, events, redeliver):
        super().__init__(daemon=True)
        self.failover, self.events, self.redeliver = failover, events, redeliver
        self.answers = collections.defaultdict(list)
        self.problems, self.sent = [], 0
        self.refused = []  # when each try not answered 200 ended (time.monotonic())
        self.lock = threading.Lock()

    def run(self):
        for n, ev in enumerate(self.events):
            if time.monotonic() > self.failover.deadline:
                self.problems.append("gave up after %d s with %d events unsent"
                                     % (RUN_MAX_S, len(self.events) - n))
                return
            twin = None
            if self.redeliver(n):
                twin = threading.Thread(target=self.deliver, args=(ev, n + 1))
                twin.start()
            self.deliver(ev, n)
            if twin:
                twin.join()
            self.failover.progress()

    def deliver(self, ev, host=0):
        """Delivers ev through host `host` (counted round the stack's hosts), each resend
        through the next host."""
        body = json.dumps(ev, separators=(",", ":")).encode()
        hosts = self.failover.stack.hosts
        for attempt in range(TRIES):
            headers = load.upstreams.sign_headers(WEBHOOK_SECRET, ev["event_id"],
                                                  int(time.time()), body)
            try:
                port = hosts[(host + attempt) % len(hosts)].nginx_port
                r = harness.http_request(port, "POST", WEBHOOK_PATH, body, headers, 10.0)
                status = r.status
            except OSError:
                status = 0
            with self.lock:
                self.sent += 1
            if status == 200:
                with self.lock:
                    self.answers[ev["event_id"]].append(json.loads(r.body))
                return
            self.refused.append(time.monotonic())
            if status not in (0, 502, 503, 504):
                self.problems.append("%s answered %d: %r" % (ev["event_id"], status, r.body))
                return
            time.sleep(0.1)
        self.problems.append("%s never answered 200" % ev["event_id"])


class Failover:
    """`events` signed events delivered `deliveries` times in all (the rest are redeliveries
    racing their first delivery) by SENDERS Senders through the stack's hosts, under a load
    of listing misses on every host, while node `node` of a started GaleraStack is SIGKILLed
    once KILL_AFTER of the events were sent; skus are the products the events change. For
    this test and for benchmarks: run() returns self, then .shares (each sender's events),
    .senders, .reports (each host's listings' load.Report), .killed_at, .elapsed, answers(),
    sent(), cost()."""

    def __init__(self, stack, skus, node=2, events=EVENTS, deliveries=DELIVERIES):
        self.stack, self.node, self.n_events = stack, node, events
        self.shares = self._deal(skus)
        rate = (deliveries - events) / events
        self.senders = [Sender(self, share, lambda n, rng=random.Random(i): rng.random() < rate)
                        for i, share in enumerate(self.shares)]
        self.lock, self.first_sent, self.killed_at = threading.Lock(), 0, None
        self.deadline = time.monotonic() + RUN_MAX_S
        self.reports, self.elapsed = [], None

    def _deal(self, skus):
        """The events, dealt to SENDERS senders; each sender's products are its own and its
        events' occurred_at and stock strictly increase."""
        t0 = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        rng = random.Random(13)
        shares = [[] for _ in range(SENDERS)]
        for k in range(self.n_events):
            i = k % SENDERS
            at = t0 + datetime.timedelta(microseconds=k)
            shares[i].append({"event_id": "evt_galera_%d" % k, "type": "product.updated",
                              "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                              "data": {"sku": rng.choice(skus[i::SENDERS]), "stock": 1000 + k}})
        return shares

    def progress(self):
        """A sender finished an event's first delivery; the node dies at the KILL_AFTER'th."""
        with self.lock:
            self.first_sent += 1
            if self.first_sent == int(self.n_events * KILL_AFTER):
                self.killed_at = time.monotonic()
                self.stack.node_kill(self.node)

    def run(self):
        t0 = time.monotonic()
        loads = [load.Load(host, [], mix={"miss": 1}, threads=1) for host in self.stack.hosts]
        with contextlib.ExitStack() as running:
            for listings in loads:
                running.enter_context(listings)
            for sender in self.senders:
                sender.start()
            for sender in self.senders:
                sender.join()
        self.elapsed = time.monotonic() - t0
        self.reports = [listings.report("host %d's listings, galera node %d killed during "
                                        "webhook deliveries" % (i + 1, self.node))
                        for i, listings in enumerate(loads)]
        self.listings_failed = [r.end for listings in loads for r in listings.results
                                if r.status != 200]
        return self

    def answers(self):
        """event_id -> every 200 answer's body (JSON) it got."""
        answers = collections.defaultdict(list)
        for sender in self.senders:
            for eid, bodies in sender.answers.items():
                answers[eid] += bodies
        return answers

    def sent(self):
        """Requests sent, resends included."""
        return sum(sender.sent for sender in self.senders)

    def cost(self):
        return failover_cost(self.killed_at, [t for s in self.senders for t in s.refused],
                             self.listings_failed)


def start_hosts(s, workers=3):
    """Seeds PRODUCTS products and starts a pool on each host of a GaleraStack(hosts=2):
    host A's on nodes 1, 2, 3 in that order, host B's on 2, 3, 1, so both nodes take writes
    and certification conflicts happen. Returns the products' skus."""
    s.seed(PRODUCTS)
    env = {"FL_WEBHOOK_SECRET": WEBHOOK_SECRET, "FL_ADMIN_TOKEN": cluster.ADMIN_TOKEN}
    s.start_app(workers=workers, env=dict(env, FL_MYSQL_URL=s.nodes_url([1, 2, 3])))
    s.hosts[1].start_app(workers=workers, env=dict(env, FL_MYSQL_URL=s.nodes_url([2, 3, 1])))
    return [r[0] for r in s.sql("SELECT sku FROM products ORDER BY id", database="farmlokal")]


class MultiHostTest(cluster.ClusterTestCase):
    """The failover between hosts without Galera: FL_MYSQL_URL's first host refuses
    connections; the worker connects to the second, writes there, and says so."""

    @classmethod
    def prepare(cls):
        s = cls.stack
        refused = harness.free_port()
        s.start_app(workers=1, env={
            "FL_ADMIN_TOKEN": cluster.ADMIN_TOKEN,
            "FL_MYSQL_URL": "mysql://farmlokal:%s@127.0.0.1:%d,127.0.0.1:%d/farmlokal"
                            % (s.db_password, refused, s.mysql_port)})

    def test_the_second_host_serves_when_the_first_refuses(self):
        health = self.get("/api/health")
        self.assertEqual(health.status, 200, health)
        self.assertEqual(health.json()["checks"]["mysql"]["address"],
                         "127.0.0.1:%d" % self.stack.mysql_port)
        self.assertNotIn("wsrep_ready", health.json()["checks"]["mysql"])  # not a Galera node
        r = self.request("POST", "/api/products", body={
            "sku": "MULTI-HOST-1", "name": "Multi host", "description": "Written.",
            "category": "fruits", "price": "1.00", "unit": "kg", "stock": 1,
            "producer": "Failover Farm"},
            headers={"Authorization": "Bearer " + cluster.ADMIN_TOKEN})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.get("/api/products/%d" % r.json()["data"]["id"]).status, 200)
        self.assertNotIn("wsrep_ready", self.metrics_text())

    def metrics_text(self):
        return self.get("/api/metrics").text


class GaleraTest(cluster.ClusterTestCase):
    stack_class = cluster.GaleraStack
    cluster_options = {"hosts": 2}

    @classmethod
    def prepare(cls):
        cls.skus = start_hosts(cls.stack)

    def test_node_killed_during_webhooks(self):
        f = Failover(self.stack, self.skus).run()
        answers = f.answers()
        delivered = sum(len(b) for b in answers.values())
        sys.stderr.write("%d deliveries answered 200 (%d requests with the resends) in %.1f s; "
                         "node failover: %s\n" % (delivered, f.sent(), f.elapsed, f.cost()))
        self.assertEqual([p for sender in f.senders for p in sender.problems], [])
        self.assertIsNotNone(f.killed_at)
        self.assertGreaterEqual(delivered, DELIVERIES * 0.95)  # about 3,000 redeliveries
        twice = [e for e, b in answers.items() if b.count({"status": "success"}) > 1]
        self.assertEqual(twice, [], "events answered success twice")
        others = [b for bodies in answers.values() for b in bodies
                  if b not in ({"status": "success"},
                               {"status": "ignored", "message": "Already processed"})]
        self.assertEqual(others, [])
        self.check_ledger(f.shares)
        for report in f.reports:
            self.assertEqual(report.failures("miss"), {}, str(report))
        self.check_health()
        self.check_node_leaving_primary(f)

    def check_ledger(self, shares):
        """Every event recorded once, as applied; each product holds its newest event's
        stock on both surviving nodes."""
        rows = self.stack.sql("SELECT event_id, outcome FROM webhook_events WHERE event_id "
                              "LIKE 'evt\\_galera\\_%'", database="farmlokal")
        recorded = collections.Counter(r[0] for r in rows)
        self.assertEqual(len(recorded), EVENTS)
        self.assertEqual([e for e, n in recorded.items() if n > 1], [])
        self.assertEqual({r[1] for r in rows}, {"applied"})
        newest = {}
        for share in shares:
            for ev in share:
                newest[ev["data"]["sku"]] = ev["data"]["stock"]
        for node in (1, 3):
            stock = {sku: int(v) for sku, v in self.stack.node_sql(
                node, "SELECT sku, stock FROM products", database="farmlokal")}
            wrong = {sku: (stock.get(sku), want) for sku, want in newest.items()
                     if stock.get(sku) != want}
            self.assertEqual(wrong, {}, "node %d: products not at their newest event" % node)

    def check_node_leaving_primary(self, f):
        """Node 3 cut off from node 1, which keeps the quorum by its weight: node 3 refuses
        queries (error 1047, wsrep_ready OFF) and the workers on it (host B's, since node 2
        died) move to node 1: listings and webhooks are still served, and /health then says
        every worker of both hosts uses node 1."""
        s = self.stack
        s.node_sql(1, "SET GLOBAL wsrep_provider_options='pc.weight=2'")
        s.node_sql(3, "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'")
        self.assertIsNotNone(cluster.wait_until(
            lambda: s.node_status(3, "wsrep_ready") == "OFF", 10), "node 3 still ready")
        listings = [host.get("/api/products?limit=5&minPrice=%d" % i).status
                    for i in range(15) for host in s.hosts]
        self.assertEqual(set(listings), {200})
        sender = Sender(f, [], None)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for k, sku in enumerate(self.skus[:12]):
            sender.deliver({"event_id": "evt_galera_isolated_%d" % k, "type": "product.updated",
                            "occurred_at": now, "data": {"sku": sku, "stock": 10 ** 6 + k}}, k)
        self.assertEqual(sender.problems, [])
        self.assertEqual(len(sender.refused), 0, "webhooks refused while node 3 was cut off")
        node1 = {"status": "ok", "address": "127.0.0.1:%d" % s.node_port(1), "wsrep_ready": True}

        def all_on_node1():
            checks = [host.get("/api/health").json()["checks"]["mysql"]
                      for _ in range(6) for host in s.hosts]
            return all({k: c.get(k) for k in node1} == node1 for c in checks)
        self.assertIsNotNone(cluster.wait_until(all_on_node1, 10), "workers left on node 3")

    def check_health(self):
        """Each host's workers use a live node, which is ready; /metrics says so too."""
        live = {"127.0.0.1:%d" % self.stack.node_port(i) for i in (1, 3)}
        for host in self.stack.hosts:
            for _ in range(6):
                r = host.get("/api/health")
                self.assertEqual(r.status, 200, r)
                mysql = r.json()["checks"]["mysql"]
                self.assertIn(mysql["address"], live)
                self.assertIs(mysql["wsrep_ready"], True)
            self.assertIn("farmlokal_mysql_wsrep_ready 1\n", host.get("/api/metrics").text)


if __name__ == "__main__":
    unittest.main()
