# SPDX-License-Identifier: MIT
"""Foundation: health checks, the process model, every way to run the binary, and
strict input handling, seen from outside (HTTP through nginx, signals, ps).

Run from the repo root:  FL_BUILD_DIR=build python3 -m unittest -v tests/integration/test_foundation.py
or from anywhere:        FL_BUILD_DIR=/abs/build python3 /abs/tests/integration/test_foundation.py -v
"""

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import poll, pid_alive  # noqa: E402


def health(stack, timeout=10.0):
    """(Response, parsed JSON or None) for GET /api/health."""
    r = stack.get("/api/health", timeout=timeout)
    try:
        return r, r.json()
    except ValueError:
        return r, None


def health_status(stack):
    """The "status" field of /api/health, or None when it is not JSON."""
    _, body = health(stack)
    return body.get("status") if isinstance(body, dict) else None


def wait_health_ok(stack, timeout=10.0, streak=6):
    """True once /api/health said "ok" `streak` times in a row (so every worker of the
    pool has recovered, not just the first one asked), within `timeout` seconds."""
    run = [0]

    def check():
        run[0] = run[0] + 1 if health_status(stack) == "ok" else 0
        return run[0] >= streak
    return poll(check, timeout=timeout, interval=0.02)


def printable_id(value):
    return value is not None and 1 <= len(value) <= 128 and all(0x21 <= ord(c) <= 0x7E for c in value)


class HealthTest(harness.StackTestCase):
    """GET /api/health and /api/health/live, also while MySQL or Redis is down."""

    app_workers = 2

    def assertCommonHeaders(self, r):
        self.assertTrue(printable_id(r.headers.get("X-Request-Id")), r)
        self.assertIn("total", r.headers.get("Server-Timing") or "", r)
        self.assertIn("no-store", (r.headers.get("Cache-Control") or "").lower(), r)

    def test_health_ok(self):
        r, body = health(self.stack)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, "application/json", r)
        self.assertCommonHeaders(r)
        self.assertEqual(body["status"], "ok", r)
        self.assertEqual(body["checks"]["mysql"]["status"], "ok", r)
        self.assertEqual(body["checks"]["redis"]["status"], "ok", r)
        self.assertIsInstance(body["checks"]["mysql"]["ms"], (int, float), r)
        self.assertIsInstance(body["version"], str, r)
        self.assertTrue(body["version"], r)

    def test_live(self):
        r = self.get("/api/health/live")
        self.assertEqual(r.status, 200, r)
        self.assertCommonHeaders(r)

    def test_request_id_echoed(self):
        for path in ("/api/health", "/api/health/live", "/api/nope"):
            with self.subTest(path=path):
                r = self.get(path, headers={"X-Request-Id": "abc-123"})
                self.assertEqual(r.headers.get("X-Request-Id"), "abc-123", r)

    def test_request_id_too_long_replaced(self):
        sent = "a" * 200
        r = self.get("/api/health/live", headers={"X-Request-Id": sent})
        self.assertEqual(r.status, 200, r)
        got = r.headers.get("X-Request-Id")
        self.assertNotEqual(got, sent, r)
        self.assertTrue(printable_id(got), r)
        # Generated ids differ per request.
        self.assertNotEqual(got, self.get("/api/health/live").headers.get("X-Request-Id"))

    def test_mysql_killed_fails_fast_and_recovers_without_restart(self):
        s = self.stack
        self.assertTrue(wait_health_ok(s, streak=2), "precondition: health is not ok")
        workers = s.wait_workers(2)
        self.assertEqual(len(workers), 2)
        s.mysql_kill()
        try:
            for _ in range(4):  # enough to reach both workers
                t0 = time.monotonic()
                r, body = health(s)
                elapsed = time.monotonic() - t0
                self.assertEqual(r.status, 503, r)
                self.assertLess(elapsed, 1.0, "503 took %.3f s" % elapsed)
                self.assertEqual(body["status"], "fail", r)
                self.assertNotEqual(body["checks"]["mysql"]["status"], "ok", r)
                self.assertIn("no-store", (r.headers.get("Cache-Control") or "").lower(), r)
                self.assertTrue(printable_id(r.headers.get("X-Request-Id")), r)
            # Liveness has no dependency checks.
            self.assertEqual(s.get("/api/health/live").status, 200)
        finally:
            s.mysql_start()
        self.assertTrue(wait_health_ok(s), "health did not recover after MySQL came back")
        self.assertEqual(s.worker_pids(), workers, "a worker was restarted")

    def test_mysql_hung_fails_within_a_second(self):
        # A MySQL that accepts connections but never answers (SIGSTOP): the bounded
        # ping must still answer 503 promptly. 1.5 s allows for sanitizer builds.
        s = self.stack
        self.assertTrue(wait_health_ok(s, streak=2), "precondition: health is not ok")
        s.mysql_stop_signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r, body = health(s, timeout=15)
            elapsed = time.monotonic() - t0
            self.assertEqual(r.status, 503, r)
            self.assertEqual(body["status"], "fail", r)
            self.assertLess(elapsed, 1.5, "503 took %.3f s with MySQL hung" % elapsed)
        finally:
            s.mysql_stop_signal(signal.SIGCONT)
        self.assertTrue(wait_health_ok(s), "health did not recover after MySQL resumed")

    def test_redis_killed_degrades_and_recovers(self):
        s = self.stack
        self.assertTrue(wait_health_ok(s, streak=2), "precondition: health is not ok")
        workers = s.wait_workers(2)
        s.redis_kill()
        try:
            for _ in range(4):
                t0 = time.monotonic()
                r, body = health(s)
                elapsed = time.monotonic() - t0
                self.assertEqual(r.status, 200, r)
                self.assertEqual(body["status"], "degraded", r)
                self.assertNotEqual(body["checks"]["redis"]["status"], "ok", r)
                self.assertEqual(body["checks"]["mysql"]["status"], "ok", r)
                self.assertLess(elapsed, 1.0, "degraded health took %.3f s" % elapsed)
        finally:
            s.redis_start()
        self.assertTrue(wait_health_ok(s), "health did not return to ok after Redis came back")
        self.assertEqual(s.worker_pids(), workers, "a worker was restarted")

    def test_redis_hung_degrades_within_a_second(self):
        s = self.stack
        self.assertTrue(wait_health_ok(s, streak=2), "precondition: health is not ok")
        s.redis_stop_signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r, body = health(s, timeout=15)
            elapsed = time.monotonic() - t0
            self.assertEqual(r.status, 200, r)
            self.assertEqual(body["status"], "degraded", r)
            self.assertLess(elapsed, 1.5, "degraded health took %.3f s with Redis hung" % elapsed)
        finally:
            s.redis_stop_signal(signal.SIGCONT)
        self.assertTrue(wait_health_ok(s), "health did not return to ok after Redis resumed")


class HealthWhileTheBreakerIsOpenTest(harness.StackTestCase):
    """A read that ran out of its own time (here waiting on a table another session locked)
    trips the worker's breaker, yet MySQL itself answers: /health says it is up."""

    app_workers = 1
    app_env = {"FL_DB_READ_TIMEOUT_MS": "100", "FL_RATE_LIMIT": "0"}

    def test_health_ok_while_the_breaker_is_open_and_mysql_answers(self):
        s = self.stack
        self.assertTrue(wait_health_ok(s, streak=2), "precondition: health is not ok")
        locker = subprocess.Popen(
            ["mariadb", "--no-defaults", "-uroot", "--socket=" + s.mysql_socket, "farmlokal",
             "-e", "LOCK TABLES products WRITE; SELECT SLEEP(3); UNLOCK TABLES"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # the lock is held
            r = s.get("/api/products?minPrice=1.23")
            self.assertEqual(r.status, 503, r)  # its read timed out; nothing kept to serve
            r, body = health(s)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(body["checks"]["mysql"]["status"], "ok", r)
        finally:
            locker.wait(timeout=30)


class ProcessModelTest(harness.StackTestCase):
    """The master: rolling restart on SIGHUP, worker replacement, clean shutdown."""

    app_workers = None  # each test starts the app with the pool size it needs

    def tearDown(self):
        self.stack.stop_app()

    def test_sighup_replaces_workers_without_refusing_requests(self):
        s = self.stack
        s.start_app(workers=2)
        master = s.app_pid
        old = s.wait_workers(2)
        self.assertEqual(len(old), 2, "expected 2 workers, got %s" % old)

        statuses = collections.Counter()
        errors = []
        lock = threading.Lock()
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    status = s.get("/api/health/live", timeout=10).status
                    with lock:
                        statuses[status] += 1
                except Exception as e:  # connection refused/reset, timeout
                    with lock:
                        errors.append(repr(e))

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            s.signal_app(signal.SIGHUP)
            time.sleep(1.25)
            s.signal_app(signal.SIGHUP)
            time.sleep(1.25)
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        self.assertEqual(errors, [], "connection errors during SIGHUP")
        self.assertEqual(set(statuses), {200}, "non-200 responses during SIGHUP: %s" % dict(statuses))
        self.assertGreater(statuses[200], 20, "too few requests to mean anything")
        new = s.wait_workers(2, exclude=old, timeout=10)
        self.assertEqual(len(new), 2, "workers after SIGHUP: %s" % new)
        self.assertFalse(set(new) & set(old), "old workers survived SIGHUP: old %s new %s" % (old, new))
        self.assertTrue(s.app_running() and s.app_pid == master, "the master itself went away")
        self.assertEqual(s.get("/api/health").status, 200)

    def test_sigterm_to_worker_finishes_request_and_is_replaced(self):
        s = self.stack
        s.start_app(workers=1)
        workers = s.wait_workers(1)
        self.assertEqual(len(workers), 1, workers)
        old = workers[0]
        self.assertEqual(health_status(s), "ok")  # the worker holds a MySQL connection now

        result = {}

        def in_flight():
            try:
                result["response"] = s.get("/api/health", timeout=20)
            except Exception as e:
                result["error"] = e

        client = threading.Thread(target=in_flight, daemon=True)
        s.mysql_stop_signal(signal.SIGSTOP)  # the worker's ping now blocks
        try:
            # /health gives MySQL 700 ms; the whole interruption stays well inside that.
            client.start()
            time.sleep(0.15)
            self.assertTrue(client.is_alive(), "the request was not in flight: %s" % result)
            self.assertTrue(pid_alive(old))
            os.kill(old, signal.SIGTERM)
            time.sleep(0.15)
        finally:
            s.mysql_stop_signal(signal.SIGCONT)
        client.join(20)
        self.assertNotIn("error", result, "in-flight request failed: %r" % result.get("error"))
        r = result.get("response")
        self.assertIsNotNone(r, "in-flight request did not finish")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "ok", r)

        new = s.wait_workers(1, exclude=[old], timeout=10)
        self.assertEqual(len(new), 1, new)
        self.assertNotEqual(new[0], old, "the worker was not replaced")
        self.assertTrue(poll(lambda: not pid_alive(old), timeout=5), "the old worker did not exit")
        for _ in range(3):
            self.assertEqual(s.get("/api/health").status, 200)

    def test_sigterm_to_master_stops_everything(self):
        s = self.stack
        s.start_app(workers=2)
        workers = s.wait_workers(2)
        self.assertEqual(len(workers), 2, workers)
        self.assertTrue(os.path.exists(s.app_socket))
        s.signal_app(signal.SIGTERM)
        try:
            status = s.app_proc.wait(timeout=5)
        except Exception:
            self.fail("the master did not exit within 5 s of SIGTERM")
        self.assertEqual(status, 0, "master exit status")
        for pid in workers:
            self.assertTrue(poll(lambda: not pid_alive(pid), timeout=5), "worker %d still runs" % pid)
        self.assertFalse(os.path.exists(s.app_socket), "the unix socket was not removed")
        self.assertEqual(s.get("/api/health/live").status, 502, "something still answers")


class RunModesTest(harness.StackTestCase):
    """The same binary with a socket on fd 0 (spawn-fcgi) and as a one-shot CGI."""

    app_workers = None

    def tearDown(self):
        self.stack.stop_spawn_fcgi()

    def check_fd0_workers(self, pids):
        self.assertEqual(len(pids), 2, pids)
        binary = self.stack.app_binary()
        for pid in pids:  # the binary itself (not a wrapper shell) is the worker
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                self.assertIn(binary.encode(), f.read().split(b"\0"), "pid %d is not the app" % pid)
        for _ in range(6):
            r, body = health(self.stack)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(body["status"], "ok", r)
        self.assertEqual(self.get("/api/nope").status, 404)

    def test_spawn_fcgi_fork_mode(self):
        pids = self.stack.start_spawn_fcgi(2)
        self.check_fd0_workers(pids)
        for pid in pids:  # as an admin would stop them; tearDown SIGKILLs stragglers
            os.kill(pid, signal.SIGTERM)
        for pid in pids:
            self.assertTrue(harness.wait_pid_gone(pid, 5.0), "worker %d survived SIGTERM" % pid)

    def test_spawn_fcgi_multiwatch(self):
        pids = self.stack.start_spawn_fcgi(2, multiwatch=True)
        self.check_fd0_workers(pids)

    def test_cgi_mode(self):
        res, r = self.stack.run_cgi("/health/live")
        self.assertEqual(res.returncode, 0, res.stderr[-2000:])
        self.assertIn(b"\n\n", res.stdout.replace(b"\r\n", b"\n"), "no CGI header block: %r" % res.stdout[:500])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type"), r)
        self.assertTrue(printable_id(r.headers.get("X-Request-Id")), r)

    def test_cgi_mode_health(self):
        res, r = self.stack.run_cgi("/health", script_name="/api")
        self.assertEqual(res.returncode, 0, res.stderr[-2000:])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "ok", r)


class BadInputTest(harness.StackTestCase):
    """Strict input through nginx: every error is a problem+json with the right status."""

    app_workers = 2

    def test_unknown_path(self):
        for path in ("/api/nope", "/api/health/nope", "/api/"):
            with self.subTest(path=path):
                problem = self.assertProblem(self.get(path), 404)
                self.assertEqual(problem["instance"], path.rstrip("/") if path != "/api/" else path)

    def test_wrong_method(self):
        for path in ("/api/health", "/api/health/live"):
            with self.subTest(path=path):
                r = self.request("POST", path)
                self.assertProblem(r, 405)
                allow = [m.strip() for m in (r.headers.get("Allow") or "").split(",")]
                self.assertIn("GET", allow, r)
                self.assertNotIn("POST", allow, r)

    def test_unknown_query_parameter_is_named(self):
        problem = self.assertProblem(self.get("/api/health?bogus=1"), 400)
        self.assertIn("bogus", problem["detail"])

    def test_malformed_query(self):
        for query in ("x=%zz", "x=%4", "x=%ff", "%ff=1", "x=%c3%28"):
            with self.subTest(query=query):
                self.assertProblem(self.get("/api/health?" + query), 400)

    def test_query_over_8k(self):
        path = "/api/health?q=" + "a" * (8 * 1024 + 512)
        self.assertProblem(self.get(path), 400)

    def test_too_many_parameters(self):
        query = "&".join("p%d=1" % i for i in range(65))
        self.assertProblem(self.get("/api/health?" + query), 400)

    def test_body_over_1mib(self):
        size = int(1.05 * 1024 * 1024)  # under nginx's 1100k, over the app's 1 MiB
        body = b'{"name":"' + b"x" * (size - 11) + b'"}'
        r = self.request("POST", "/api/health", body=body, headers={"Content-Type": "application/json"})
        self.assertProblem(r, 413)


if __name__ == "__main__":
    unittest.main()
