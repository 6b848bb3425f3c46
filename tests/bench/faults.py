# SPDX-License-Identifier: MIT
"""`bench.py faults`: what each dependency fault of tests/fault/ costs the listing, as
p50/p99 during the fault against the same load in the healthy seconds just before it, all
in one run on one stack (a release build, 4 workers, the mock upstreams).

One steady load runs throughout (cached listings, misses, signed webhooks: the mix of
tests/fault/test_mysql_faults.py); each fault is preceded by a healthy window of the same
length and followed by a recovery window. A last phase drives 64 connections with wrk on a cached listing, healthy and while Redis
hangs (the issue's p99 bound). The table gives, per fault, the listing
latency healthy and during, the statuses seen during, and the recovery time (seconds from
the end of the fault to the end of the last failed request, as tests/fault/load.py counts
it). The webhook ledger is checked at the end: every event applied once, those not answered
"success" sent again first, as API B does.
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fault"))
import load  # noqa: E402
from test_integrations import Upstreams, upstream_env  # noqa: E402

LISTINGS = ("cached", "miss")
MIX = {"cached": 6, "miss": 2, "webhook": 1}


def api_a_hangs(s, mock, seconds):
    """24 callers on GET /products/external/ while API A accepts and never answers."""
    mock.config("api_a", default_step={"hang": 60})
    try:
        with load.Load(s, ["none"], mix={"external": 1}, threads=24, timeout=15, seed=3):
            time.sleep(seconds)
    finally:
        mock.config("api_a", default_step=None)


def tables_locked(s, mock, seconds):
    subprocess.run(["mariadb", "--no-defaults", "-uroot", "--socket=" + s.mysql_socket, "farmlokal",
                    "-e", "LOCK TABLES products WRITE, product_words WRITE; SELECT SLEEP(%d); "
                    "UNLOCK TABLES" % seconds], check=True, stdout=subprocess.DEVNULL)


def hung(send_signal, seconds):
    """The server accepts and never answers (SIGSTOP) for seconds."""
    send_signal(signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        send_signal(signal.SIGCONT)


def mysql_hung(s, mock, seconds):
    hung(s.mysql_stop_signal, seconds)


def mysql_killed(s, mock, seconds):
    s.mysql_kill()
    time.sleep(seconds)
    s.mysql_start()


def redis_hung(s, mock, seconds):
    hung(s.redis_stop_signal, seconds)


FAULTS = (("API A hangs, 24 external callers", api_a_hangs),
          ("products write-locked", tables_locked),
          ("MySQL SIGSTOPped", mysql_hung),
          ("MySQL SIGKILLed, restarted", mysql_killed),
          ("Redis SIGSTOPped", redis_hung))


def window(results, t0, t1, kinds=LISTINGS):
    return [r for r in results if t0 <= r.start < t1 and r.kind in kinds]


def p50_p99(results):
    times = [r.elapsed for r in results]
    return "%.1f / %.1f" % tuple(1000 * load.percentile(times, p) for p in (50, 99)) if times else "-"


def statuses(results):
    counts = {}
    for r in results:
        key = "%d%s" % (r.status, " " + r.cache if r.cache in ("STALE", "BYPASS") else "")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join("%s:%d" % kv for kv in sorted(counts.items()))


def redis_hung_at_64(s, seconds):
    """wrk's 64 connections on a cached listing, healthy and while Redis hangs."""
    url = s.base_url + "/api/products?limit=20&category=vegetables"
    load.wrk(url, 2)
    healthy = load.wrk(url, seconds)
    s.redis_stop_signal(signal.SIGSTOP)
    try:
        during = load.wrk(url, seconds)
    finally:
        s.redis_stop_signal(signal.SIGCONT)
    return healthy, during


def run(args):
    import harness
    with harness.Stack() as s:
        mock = Upstreams(s)
        try:
            mock.start()
            s.seed(args.rows)
            skus = [r[0] for r in s.sql("SELECT sku FROM products ORDER BY id LIMIT 400",
                                        database="farmlokal")]
            s.start_app(workers=args.workers, env=upstream_env(
                mock, {"FL_CACHE_TTL": "1", "FL_RATE_LIMIT": "0"}))
            measured = []
            with load.Load(s, skus, mix=MIX, threads=args.threads, timeout=15) as steady:
                time.sleep(3)  # connections, prepared statements, the cached keys built
                for name, fault in FAULTS:
                    h0 = time.monotonic()
                    time.sleep(args.seconds)
                    f0 = time.monotonic()
                    fault(s, mock, args.seconds)
                    f1 = time.monotonic()
                    time.sleep(args.recovery)
                    measured.append((name, h0, f0, f1, time.monotonic()))
            results = steady.results
            problems = load.check_ledger(s, steady)
            at64 = redis_hung_at_64(s, args.seconds)
        finally:
            mock.stop()
    print("\n# listing latency (cached + miss, ms p50 / p99) healthy vs during each fault, "
          "%d workers, %d threads, %d s windows, %d rows" % (args.workers, args.threads,
                                                            args.seconds, args.rows))
    print("%-34s %15s %17s  %-40s %s" % ("fault", "healthy", "during", "statuses during",
                                         "recovery"))
    for name, h0, f0, f1, r1 in measured:
        rep = load.Report(name, window(results, f0, r1, load.KINDS), f0, r1, f1,
                          load.default_failed)
        during = window(results, f0, f1)
        print("%-34s %15s %17s  %-40s %s" % (
            name, p50_p99(window(results, h0, f0)), p50_p99(during), statuses(during),
            "n/a" if rep.recovery_s is None else "%.2f s" % rep.recovery_s))
    print("\n# Redis SIGSTOPped, wrk -t2 -c64 on a cached listing (%d s each)" % args.seconds)
    for name, w in zip(("healthy", "Redis hung"), at64):
        print("%-12s %8.0f req/s  p50 %6.1f ms  p99 %6.1f ms  non-2xx %d  socket errors %d" % (
            name, w["rps"], w["p50_ms"], w["p99_ms"], w["non2xx"], w["socket_errors"]))
    delivered = sum(1 for r in results if r.kind == "webhook" and r.status == 200)
    print("webhooks: %d delivered, ledger %s" % (
        delivered, "exact" if not problems else "DISAGREES: %s" % problems[:5]))
