# SPDX-License-Identifier: MIT
"""Fault-test scaffolding: a steady mixed load against a harness Stack while a scenario
breaks something, what the load saw, and the webhook-ledger check every scenario ends with.

A scenario is a FaultTestCase (a Stack, the mock upstreams, a seeded catalogue and the app;
class attributes `workers`, `env`, `seed_rows` as in tests/integration/test_integrations.py):

    class RedisHangs(load.FaultTestCase):
        workers = 4
        env = {"FL_QUEUE_BUDGET_MS": "500"}

        def test_redis_hangs(self):
            with self.load(threads=8, mix={"cached": 4, "miss": 2, "webhook": 1}) as run:
                run.wait(2)                                  # healthy first
                self.stack.redis_stop_signal(signal.SIGSTOP) # the fault
                run.wait(5)
                self.stack.redis_stop_signal(signal.SIGCONT)
                run.mark()                                   # recovery is timed from here
                run.wait(3)
            report = run.report("redis hangs")               # also printed to stderr
            self.assertEqual(report.failures("cached"), {})
            self.assertLedgerExact(run)

Load(stack, mock, skus, mix, threads, rate=None, timeout=10.0): `threads` threads send
requests back to back (closed loop) or, with `rate`, paced to `rate` requests per second
in all. Each request is one kind, drawn by the weights in `mix`:

    cached    GET /api/products?limit=20&category=C    (a handful of keys: cache hits)
    miss      GET /api/products?limit=20&minPrice=P     (P random: a listing cache miss)
    search    GET /api/products?search=W&minPrice=P     (a search word, always a miss)
    external  GET /api/products/external/X              (API A through the mock)
    webhook   POST /api/webhooks/update                  (a new signed event; each thread
                                                         owns its products, so every event
                                                         is newer than the last applied)

Every request becomes a Result (kind, start, end: time.monotonic(); status: the HTTP status
or 0 when the connection failed or timed out; error; retry_after; cache: X-Cache; body for
webhooks).
`run.results` holds them all; `run.mark()` notes when the fault ended; `run.report()`
returns a Report (requests sent, failures by status, latency p50/p99/max by kind, recovery
time) and prints it. A failure is a status of 0 or >= 500 unless `failed=` says otherwise.

check_ledger(stack, run) (FaultTestCase.assertLedgerExact) first sends every event that was
not answered "success" again, as API B does once the fault is over (an error answer can
hide a commit whose reply was lost), then compares the webhook_events table with what the
load and the resends were answered: every event is recorded exactly once, every event
answered "success" as applied, no resend is answered anything but success, "Already
processed" or "Stale event", and each product holds the stock of the newest of its events
recorded as applied.
"""

import collections
import datetime
import importlib.util
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
from test_integrations import UpstreamTestCase, WEBHOOK_PATH, WEBHOOK_SECRET  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "upstreams", os.path.join(os.path.dirname(HERE), "mock", "upstreams.py"))
upstreams = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(upstreams)

KINDS = ("cached", "miss", "search", "external", "webhook")
CATEGORIES = ("vegetables", "fruits", "dairy")
SEARCH_WORDS = ("tomato", "organic", "fresh", "apple", "honey", "green")


class Result:
    __slots__ = ("kind", "start", "end", "status", "error", "retry_after", "body", "event",
                 "cache")

    def __init__(self, kind, start, end, status, error=None, retry_after=None, body=None,
                 event=None, cache=None):
        self.kind, self.start, self.end, self.status = kind, start, end, status
        self.error, self.retry_after, self.body, self.event = error, retry_after, body, event
        self.cache = cache  # the X-Cache header, if any

    @property
    def elapsed(self):
        return self.end - self.start

    def __repr__(self):
        return "<%s %s %.1f ms%s>" % (self.kind, self.status, self.elapsed * 1000,
                                      " " + self.error if self.error else "")


def default_failed(result):
    return result.status == 0 or result.status >= 500


def percentile(values, p):
    """The p-th percentile (0-100) of values by nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))]


class Report:
    """What a run saw. failures(kind) -> {status: n}; latency(kind) -> (p50, p99, max) in
    seconds; recovery_s: seconds from run.mark() to the end of the last failure (0.0 when
    nothing failed after it, None when nothing succeeded after the last failure)."""

    def __init__(self, name, results, t0, t1, mark, failed):
        self.name, self.results, self.failed = name, results, failed
        self.duration = t1 - t0
        self.sent = len(results)
        self.recovery_s = self._recovery(mark)

    def of(self, kind=None):
        return [r for r in self.results if kind is None or r.kind == kind]

    def failures(self, kind=None):
        return dict(collections.Counter(r.status for r in self.of(kind) if self.failed(r)))

    def latency(self, kind=None, status=None):
        times = [r.elapsed for r in self.of(kind) if status is None or r.status == status]
        return percentile(times, 50), percentile(times, 99), max(times) if times else None

    def _recovery(self, mark):
        if mark is None:
            return None
        bad = [r for r in self.results if self.failed(r) and r.end >= mark]
        if not bad:
            return 0.0
        last = max(bad, key=lambda r: r.end)
        if not any(not self.failed(r) and r.start >= last.start for r in self.results):
            return None
        return last.end - mark

    def __str__(self):
        def ms(v):
            return "%8.1f" % (v * 1000) if v is not None else "       -"
        lines = ["fault %s: %d requests in %.1f s (%.0f/s); recovery %s" % (
            self.name, self.sent, self.duration, self.sent / max(self.duration, 1e-9),
            "n/a" if self.recovery_s is None else "%.2f s after the mark" % self.recovery_s),
            "  %-9s %6s %-28s %8s %8s %8s  (ms)" % ("kind", "sent", "statuses", "p50", "p99",
                                                   "max")]
        for kind in KINDS:
            rs = self.of(kind)
            if not rs:
                continue
            statuses = ",".join("%s:%d" % kv for kv in sorted(
                collections.Counter(r.status for r in rs).items()))
            p50, p99, top = self.latency(kind)
            lines.append("  %-9s %6d %-28s %s %s %s" % (kind, len(rs), statuses, ms(p50),
                                                        ms(p99), ms(top)))
        return "\n".join(lines)


class Load:
    """A running load (see the module docstring); a context manager that stops it."""

    def __init__(self, stack, skus, mix=None, threads=8, rate=None, timeout=10.0,
                 headers=None, seed=1):
        self.stack, self.skus = stack, skus
        self.mix = dict(mix or {"cached": 4, "miss": 2, "external": 1, "webhook": 1})
        unknown = set(self.mix) - set(KINDS)
        if unknown:
            raise ValueError("unknown kinds %s" % sorted(unknown))
        self.threads, self.rate, self.timeout = threads, rate, timeout
        self.headers = dict(headers or {})
        self.seed = seed
        self.tag = "%x" % random.getrandbits(32)
        self.results = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.workers = []
        self.t0 = self.t1 = self.marked = None
        self._clock = 0  # microseconds added to occurred_at so it strictly increases

    # -- control --------------------------------------------------------------------------

    def start(self):
        self.t0 = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.workers:
            t.join(self.timeout + 5)
        self.t1 = time.monotonic()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait(self, seconds):
        time.sleep(seconds)

    def mark(self):
        """The fault ended now: recovery is timed from here."""
        self.marked = time.monotonic()

    def report(self, name="", failed=default_failed, file=sys.stderr):
        with self.lock:
            results = list(self.results)
        rep = Report(name, results, self.t0, self.t1 or time.monotonic(), self.marked, failed)
        file.write("\n%s\n" % rep)
        file.flush()
        return rep

    # -- the threads ----------------------------------------------------------------------

    def _run(self, index):
        rng = random.Random(self.seed * 1000 + index)
        kinds = sorted(self.mix)
        weights = [self.mix[k] for k in kinds]
        mine = self.skus[index::self.threads] or self.skus
        per_thread = self.rate / self.threads if self.rate else None
        next_at = time.monotonic()
        n = 0
        while not self.stop_event.is_set():
            if per_thread:
                next_at = max(next_at + 1.0 / per_thread, time.monotonic() - 1.0)
                delay = next_at - time.monotonic()
                if delay > 0 and self.stop_event.wait(delay):
                    break
            kind = rng.choices(kinds, weights)[0]
            n += 1
            result = self._one(kind, rng, mine, index, n)
            with self.lock:
                self.results.append(result)

    def _one(self, kind, rng, mine, index, n):
        method, path, body, headers, ev = "GET", None, None, dict(self.headers), None
        price = "%d.%02d" % (rng.randrange(1, 400), rng.randrange(100))
        if kind == "cached":
            path = "/api/products?limit=20&category=" + rng.choice(CATEGORIES)
        elif kind == "miss":
            path = "/api/products?limit=20&minPrice=" + price
        elif kind == "search":
            path = "/api/products?limit=20&search=%s&minPrice=%s" % (rng.choice(SEARCH_WORDS), price)
        elif kind == "external":
            path = "/api/products/external/item-%d" % rng.randrange(100000)
        else:
            method, path = "POST", WEBHOOK_PATH
            ev = self._event(rng.choice(mine), index, n)
            body = json.dumps(ev, separators=(",", ":")).encode()
            headers.update(upstreams.sign_headers(WEBHOOK_SECRET, ev["event_id"],
                                                  int(time.time()), body))
        start = time.monotonic()
        try:
            r = harness.http_request(self.stack.nginx_port, method, path, body, headers,
                                     self.timeout)
        except OSError as e:
            return Result(kind, start, time.monotonic(), 0, error=repr(e), event=ev)
        return Result(kind, start, time.monotonic(), r.status,
                      retry_after=r.headers.get("Retry-After"),
                      body=r.body if kind == "webhook" else None, event=ev,
                      cache=r.headers.get("X-Cache"))

    def _event(self, sku, index, n):
        with self.lock:
            self._clock += 1
            tick = self._clock
        occurred = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                    + datetime.timedelta(microseconds=tick))
        return {"event_id": "evt_fault_%s_%d_%d" % (self.tag, index, n),
                "type": "product.updated",
                "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "data": {"sku": sku, "stock": 100000 + tick}}


# --------------------------------------------------------------------------------------
# The webhook ledger
# --------------------------------------------------------------------------------------

class Probe:
    """GET path every 200 ms in a thread while a scenario runs (a context manager); .times
    holds (start, status, seconds seen by the client, seconds the app took by its
    Server-Timing total, None when it sent none)."""

    def __init__(self, stack, path):
        self.stack, self.path, self.times, self._stop = stack, path, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                r = self.stack.get(self.path, timeout=5)
                status = r.status
                total = float(r.headers.get("Server-Timing", "").split("total;dur=")[-1]) / 1000
            except (OSError, ValueError):
                status, total = 0, None
            self.times.append((t0, status, time.monotonic() - t0, total))
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _deliver(stack, event, deadline_s=10.0):
    """Send `event` again as API B's retry does after an unanswered or 5xx delivery: freshly
    signed, again on a 5xx or a failed connection until `deadline_s` passes. Returns the
    last (status, parsed answer)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    deadline = time.monotonic() + deadline_s
    while True:
        headers = upstreams.sign_headers(WEBHOOK_SECRET, event["event_id"], int(time.time()),
                                         body)
        try:
            r = harness.http_request(stack.nginx_port, "POST", WEBHOOK_PATH, body, headers, 5.0)
            status, answer = r.status, _json(r.body)
        except OSError:
            status, answer = 0, None
        if (status != 0 and status < 500) or time.monotonic() > deadline:
            return status, answer
        time.sleep(0.2)


def check_ledger(stack, run):
    """Problems (a list of strings, empty when none) between the events `run` posted and
    the webhook_events table and products (see the module docstring). Every event not
    answered "success" is first sent again, as API B does after the fault: an error answer
    may hide a commit whose reply was lost, so only the retry settles it."""
    sent = [r for r in run.results if r.kind == "webhook"]
    if not sent:
        return []
    problems, resent = [], {}
    for r in sent:
        eid = r.event["event_id"]
        answer = _json(r.body)
        if r.status == 200 and answer != {"status": "success"}:
            problems.append("%s answered %r: every event of the load is new" % (eid, answer))
        elif r.status != 200:
            resent[eid] = _deliver(stack, r.event)
    rows = stack.sql("SELECT event_id, outcome FROM webhook_events WHERE event_id LIKE "
                     "'evt\\_fault\\_%s\\_%%'" % run.tag, database="farmlokal")
    recorded = collections.Counter(r[0] for r in rows)
    outcome = {r[0]: r[1] for r in rows}
    problems += ["%s recorded %d times" % (e, n) for e, n in recorded.items() if n > 1]
    settled = ({"status": "success"},
               {"status": "ignored", "message": "Already processed"},
               {"status": "ignored", "message": "Stale event"})
    for r in sent:
        eid = r.event["event_id"]
        status, answer = resent.get(eid, (r.status, _json(r.body)))
        if status != 200 or answer not in settled:
            problems.append("%s answered %d %r when sent again" % (eid, status, answer))
        elif eid not in outcome:
            problems.append("%s answered %r, yet not recorded" % (eid, answer))
        elif answer == {"status": "success"} and outcome[eid] != "applied":
            problems.append("%s answered success, recorded as %s" % (eid, outcome[eid]))
    newest = {}
    for r in sent:
        if outcome.get(r.event["event_id"]) == "applied":
            sku = r.event["data"]["sku"]
            if sku not in newest or r.event["occurred_at"] > newest[sku]["occurred_at"]:
                newest[sku] = r.event
    if newest:
        stock = dict(stack.sql("SELECT sku, stock FROM products WHERE sku IN (%s)" % ",".join(
            "'%s'" % s for s in newest), database="farmlokal"))
        for sku, ev in newest.items():
            if int(stock.get(sku, -1)) != ev["data"]["stock"]:
                problems.append("%s holds stock %s, its newest applied event %s set %d" % (
                    sku, stock.get(sku), ev["event_id"], ev["data"]["stock"]))
    return problems


def wrk(url, seconds=10, conns=64, headers=(), script=None):
    """A closed-loop load from wrk (C, so the client is not the bottleneck the way Python
    threads are at 64 connections), with an optional Lua script (a path): rps, requests,
    p50_ms, p99_ms, non2xx and socket errors."""
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {}
    for p, v, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)$", out, re.M):
        pct[p] = round(float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        out)
    return {"rps": rps, "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50_ms": pct.get("50"), "p99_ms": pct.get("99"),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sum(map(int, sockets.groups())) if sockets else 0}


def _json(body):
    try:
        return json.loads(body.decode("utf-8")) if body else None
    except ValueError:
        return None  # not the app's answer (nginx's error page)


# --------------------------------------------------------------------------------------
# The test case
# --------------------------------------------------------------------------------------

class FaultTestCase(UpstreamTestCase):
    """A stack, the mock upstreams, `seed_rows` products and the app (`workers`, `env`)."""

    workers = 4
    seed_rows = 1000

    @classmethod
    def prepare(cls):
        cls.stack.seed(cls.seed_rows)
        cls.skus = [r[0] for r in cls.stack.sql("SELECT sku FROM products ORDER BY id LIMIT 400",
                                                database="farmlokal")]

    def load(self, **kwargs):
        """A Load on this stack (not started: use it in a with block)."""
        return Load(self.stack, self.skus, **kwargs)

    def assertLedgerExact(self, run):
        problems = check_ledger(self.stack, run)
        self.assertEqual(problems, [], "the webhook ledger disagrees with what was answered")
        sent = [r for r in run.results if r.kind == "webhook"]
        resent = sum(1 for r in sent if r.status != 200)
        sys.stderr.write("ledger: %d events, %d of them sent again after the fault, each "
                         "applied exactly once\n" % (len(sent), resent))
