# SPDX-License-Identifier: MIT
"""The upstream integrations seen from outside, against the mock upstreams
(tests/mock/upstreams.py: an OAuth provider, API A and API B in one process):

- GET /products/external/{id} (API A): id validation, the envelope, 404, the one token
  refresh on 401, no retry on other 4xx, retries with full-jitter backoff on 5xx/408/429/
  closed connections, Retry-After, the per-try timeout and the request deadline, oversized
  and non-JSON bodies, the circuit breaker (open, half-open, closed).
- OAuth client credentials: one token fetch across 4 workers under 100 concurrent requests,
  again when the token expires and when the provider revokes it; tokens never logged.
- POST /webhooks/update (API B): Standard Webhooks signatures (missing, wrong, stale,
  rotated), strict bodies (400/413/415), first delivery applied and the listing cache
  invalidated, redeliveries, out-of-order and unknown-product events, MySQL down; and a
  10,000-delivery run of 7,000 events with Redis flushed and MySQL restarted during it.
- `farmlokal-ctl webhook-register`: idempotent subscription at API B.

Run from the build directory:
    FL_BUILD_DIR=$PWD FL_TEST_CACHE=$PWD/test-cache python3 ../tests/integration/test_integrations.py -v
"""

import base64
import collections
import concurrent.futures
import datetime
import json
import os
import random
import re
import secrets
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import poll  # noqa: E402

MOCK = os.path.join(harness.REPO_ROOT, "tests", "mock", "upstreams.py")
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"farmlokal-test-webhook-key-0123").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-else's-webhook-key-987").decode()
MIB = 1 << 20
WEBHOOK_LIMIT = 256 << 10
BREAKER_KEYS = ("fl:breaker:api_a:fails", "fl:breaker:api_a:open", "fl:breaker:api_a:trial")
WEBHOOK_PATH = "/api/webhooks/update"


# --------------------------------------------------------------------------------------
# The mock upstreams: one subprocess per stack, stopped by pid
# --------------------------------------------------------------------------------------

class Upstreams:
    """tests/mock/upstreams.py started for a stack, and its control API."""

    def __init__(self, stack):
        self.stack = stack
        self.proc = None
        self.urls = {}
        self.ports = {}

    def start(self, timeout=15.0):
        port_file = self.stack.path("mock-ports.json")
        # harness.Proc: own session, PDEATHSIG, and the stack's marker in its environment,
        # so even a test runner killed hard leaves no mock behind.
        self.proc = harness.Proc("mock", [sys.executable, MOCK, "--port-file", port_file],
                                 self.stack.path("mock.log"), env=self.stack.base_env(),
                                 cwd=self.stack.tmp)
        deadline = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if not self.proc.alive():
                raise RuntimeError("the mock exited (%s):\n%s" % (
                    self.proc.popen.returncode, harness.tail(self.proc.log)))
            if time.monotonic() > deadline:
                raise RuntimeError("the mock wrote no port file in %.0f s" % timeout)
            time.sleep(0.02)
        with open(port_file) as f:
            self.urls = json.load(f)
        self.ports = {k: urllib.parse.urlsplit(v).port for k, v in self.urls.items()}
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.stop(5.0)
            self.proc = None

    # -- control API --------------------------------------------------------------------

    def call(self, mock, method, path, body=None, timeout=15.0):
        r = harness.http_request(self.ports[mock], method, path, body=body, timeout=timeout)
        if r.status != 200:
            raise AssertionError("mock %s %s %s -> %r" % (mock, method, path, r))
        return r.json()

    def reset(self, *mocks):
        for m in mocks or ("oauth", "api_a", "api_b"):
            self.call(m, "POST", "/_control/reset", {})

    def config(self, mock, **changes):
        return self.call(mock, "POST", "/_control/config", changes)["config"]

    def requests(self, mock):
        return self.call(mock, "GET", "/_control/requests")["requests"]

    def state(self, mock):
        return self.call(mock, "GET", "/_control/state")

    def script(self, item_id, steps):
        return self.call("api_a", "POST", "/_control/script", {"id": item_id, "steps": steps})

    def script_left(self, item_id):
        return len(self.state("api_a")["scripts"].get(item_id, []))

    def revoke(self):
        return self.call("oauth", "POST", "/_control/revoke", {})["revoked"]

    def token_requests(self):
        return [e for e in self.requests("oauth") if e["path"].startswith("/token")]

    def api_a_requests(self, item_id):
        return [e for e in self.requests("api_a") if e.get("item_id") == item_id]

    def sign(self, secret, msg_id, body, timestamp=None):
        req = {"secret": secret, "id": msg_id, "body": body}
        if timestamp is not None:
            req["timestamp"] = timestamp
        return self.call("api_b", "POST", "/_control/sign", req)["headers"]

    def send(self, timeout=600.0, **spec):
        return self.call("api_b", "POST", "/_control/send", spec, timeout=timeout)


def upstream_env(mock, extra=None):
    """The app's settings for the mock upstreams `mock` (a started Upstreams), plus extra."""
    u = mock.urls
    env = {
        "FL_RATE_LIMIT": "0",
        "FL_OAUTH_TOKEN_URL": u["oauth"] + "/token",
        "FL_OAUTH_CLIENT_ID": "farmlokal",
        "FL_OAUTH_CLIENT_SECRET": "s3cret",
        "FL_API_A_URL": u["api_a"] + "/items",
        "FL_API_A_BREAKER_OPEN_MS": "1500",
        "FL_API_B_URL": u["api_b"],
        "FL_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    env.update(extra or {})
    return env


class UpstreamTestCase(harness.StackTestCase):
    """A stack plus the mock upstreams; the app is started once both run, configured
    for them (class attribute `env` adds or overrides settings)."""

    app_workers = None     # started here, once the mock's ports are known
    workers = 2
    env = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.mock = Upstreams(cls.stack)
            cls.addClassCleanup(cls.mock.stop)   # runs before the stack's own cleanup
            cls.mock.start()
            cls.prepare()
            cls.stack.start_app(workers=cls.workers, env=cls.upstream_env())
        except BaseException:
            cls.stack.dump_logs()
            raise

    @classmethod
    def prepare(cls):
        """Runs before the app starts (data, Redis state)."""

    @classmethod
    def upstream_env(cls, **overrides):
        return upstream_env(cls.mock, dict(cls.env, **overrides))

    def tearDown(self):
        # After every test, not in a last one: no test depends on the order they run in.
        self.assertNoTokensLogged()
        super().tearDown()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            text = harness.tail(self.stack.path("mock.log"), 20)
            if text.strip():
                sys.stderr.write("\n----- mock.log (last 20 lines) -----\n%s\n" % text)
        return outcome

    # -- helpers ------------------------------------------------------------------------

    def external(self, item_id, timeout=15.0):
        return self.get("/api/products/external/" + item_id, timeout=timeout)

    def new_id(self, tag="x"):
        return "%s-%s" % (tag, secrets.token_hex(5))

    def clear_breaker(self):
        self.stack.redis("DEL", *BREAKER_KEYS)

    def restart_redis_and_wait(self):
        """Start Redis again and wait until every worker uses it again (/health "ok" many
        times in a row: workers space their reconnect attempts)."""
        self.stack.redis_start()
        def healthy():
            for _ in range(8):
                r = self.get("/api/health")
                if r.status != 200 or r.json().get("status") != "ok":
                    return False
            return True
        self.assertTrue(poll(healthy, timeout=15, interval=0.1), "the app did not see Redis again")

    def assertNoTokensLogged(self):
        for name in ("app.log", "nginx-error.log", "access.log"):
            path = self.stack.path(name)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            m = re.search(rb".{0,80}(?<![\w-])tok-\d+\b.{0,40}", data)  # the mock's tokens
            self.assertIsNone(m, "an OAuth token appears in %s: %r" % (name, m and m.group(0)))
            self.assertNotIn(b"s3cret", data, "the client secret appears in " + name)


def gaps(entries):
    """Seconds between the arrivals of consecutive mock log entries."""
    return [b["mono"] - a["mono"] for a, b in zip(entries, entries[1:])]


# --------------------------------------------------------------------------------------
# API A: envelope, errors, token refresh, retries, bodies
# --------------------------------------------------------------------------------------

class ExternalApiTest(UpstreamTestCase):
    """Defaults: 3 retries, 2 s per try, 5 s deadline."""

    # One worker: the tests count the calls API A sees, and a second worker holding a token
    # that an earlier test's mock reset made unknown would add its own 401 and refresh
    # to whichever test it happens to serve.
    workers = 1

    def setUp(self):
        self.mock.reset("oauth", "api_a")
        self.clear_breaker()

    def test_bad_ids_are_400_and_never_reach_api_a(self):
        before = len(self.mock.requests("api_a"))
        for raw in ("a" * 65, "a.b", "a%20b", "%C3%A9t%C3%A9", "a+b", "a:b", "a,b", "a%2Eb",
                    "~x", "a%09", "a'b", "a%22"):
            with self.subTest(id=raw):
                self.assertProblem(self.external(raw), 400)
        self.assertEqual(len(self.mock.requests("api_a")), before)
        # The limits themselves are fine.
        for ok in ("a" * 64, "A", "Z-9_z", "0", "-", "_"):
            with self.subTest(id=ok):
                r = self.external(ok)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["data"]["id"], ok, r)

    def test_success_wraps_upstream_json(self):
        item = self.new_id("ok")
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, "application/json", r)
        self.assertEqual(r.json(), {"status": "success", "source": "external_api",
                                    "data": {"id": item, "name": "External item " + item,
                                             "price": "12.50", "source": "api-a"}})
        reqs = self.mock.api_a_requests(item)
        self.assertEqual(len(reqs), 1, reqs)
        self.assertEqual(reqs[0]["method"], "GET")
        self.assertEqual(reqs[0]["path"], "/items/" + item)
        self.assertRegex(reqs[0]["headers"].get("authorization", ""), r"^Bearer tok-\d+$")
        # Any JSON value passes through as it came (here: nesting, unicode, a top-level array).
        for body in ('{"nested":[1,2.5,{"a":null,"b":true}],"name":"caf\\u00e9 \u00e9"}',
                     '[1,"two",{"three":3}]', '"just a string"'):
            with self.subTest(body=body):
                item = self.new_id("raw")
                self.mock.script(item, [{"body": body}])
                r = self.external(item)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["data"], json.loads(body), r)
        # Chunked transfer encoding is fine too.
        item = self.new_id("chunk")
        self.mock.script(item, [{"chunked": True}])
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["id"], item)

    def test_upstream_404_is_404_without_retry(self):
        item = self.new_id("nf")
        self.mock.script(item, [{"status": 404}, {"status": 404}])
        self.assertProblem(self.external(item), 404)
        self.assertEqual(len(self.mock.api_a_requests(item)), 1)

    def test_other_4xx_are_502_without_retry(self):
        for status in (400, 403, 405, 409, 422):
            with self.subTest(status=status):
                item = self.new_id("c%d" % status)
                self.mock.script(item, [{"status": status}] + [{}] * 3)
                self.assertProblem(self.external(item), 502)
                self.assertEqual(len(self.mock.api_a_requests(item)), 1,
                                 "a %d must not be retried" % status)

    def test_upstream_401_refreshes_the_token_once(self):
        warm = self.external(self.new_id("warm"))           # a token cached everywhere
        self.assertEqual(warm.status, 200, warm)
        tokens_before = len(self.mock.token_requests())
        item = self.new_id("u401")
        self.mock.script(item, [{"status": 401}])
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        reqs = self.mock.api_a_requests(item)
        self.assertEqual(len(reqs), 2, reqs)
        tokens = self.mock.token_requests()
        self.assertEqual(len(tokens) - tokens_before, 1, "exactly one new token fetch")
        new = tokens[-1]["token"]
        self.assertEqual(reqs[1]["headers"]["authorization"], "Bearer " + new,
                         "the retry uses the new token")
        self.assertNotEqual(reqs[0]["headers"]["authorization"], "Bearer " + new)

    def test_upstream_401_twice_is_502_after_one_refresh(self):
        item = self.new_id("u401x2")
        self.assertEqual(self.external(self.new_id("warm")).status, 200)
        tokens_before = len(self.mock.token_requests())
        self.mock.script(item, [{"status": 401}, {"status": 401}, {}, {}])
        self.assertProblem(self.external(item), 502)
        self.assertEqual(len(self.mock.api_a_requests(item)), 2)
        self.assertEqual(len(self.mock.token_requests()) - tokens_before, 1)

    def test_revoked_token_is_replaced_once(self):
        self.assertEqual(self.external(self.new_id("warm")).status, 200)
        tokens_before = len(self.mock.token_requests())
        self.assertGreaterEqual(self.mock.revoke(), 1)
        item = self.new_id("rev")
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        reqs = self.mock.api_a_requests(item)
        self.assertEqual([e["status"] for e in reqs], [401, 200], reqs)
        self.assertEqual(len(self.mock.token_requests()) - tokens_before, 1)
        # The other worker still holds the revoked token: it takes the shared new one.
        for _ in range(12):
            r = self.external(self.new_id("rev2"))
            self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.mock.token_requests()) - tokens_before, 1,
                         "one fetch in all for one revocation")

    def test_retryable_statuses_are_retried(self):
        for steps in ([{"status": 500}, {"status": 502}, {"status": 503}],
                      [{"status": 504}, {"status": 408}, {"status": 429}],
                      [{"close": True}, {"status": 503}],
                      [{"close": "reset"}, {"status": 500}]):
            with self.subTest(steps=steps):
                item = self.new_id("rt")
                self.mock.script(item, steps + [{}])
                r = self.external(item)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["data"]["id"], item)
                self.assertEqual(len(self.mock.api_a_requests(item)), len(steps) + 1)

    def test_all_tries_failing_is_502_after_three_retries_with_jittered_backoff(self):
        total_backoff = 0.0
        for run in range(3):
            item = self.new_id("fail")
            # More failures scripted than the app may use: a fifth request would show.
            self.mock.script(item, [{"status": s} for s in (500, 503, 502, 504, 500, 500)])
            r = self.external(item)
            self.assertProblem(r, 502)
            reqs = self.mock.api_a_requests(item)
            self.assertEqual(len(reqs), 4, "1 try + 3 retries, got %d" % len(reqs))
            g = gaps(reqs)
            for attempt, gap in enumerate(g):
                ceiling = min(2.0, 0.1 * 2 ** attempt)
                self.assertLessEqual(gap, ceiling + 0.15,
                                     "run %d: wait before retry %d was %.3f s (cap %.1f s): %s"
                                     % (run, attempt + 1, gap, ceiling, g))
            total_backoff += sum(g)
            self.assertLess(r.elapsed, 5.1, r)
        # Full jitter: random waits, not zero ones (expected ~1 s over 3 runs).
        self.assertGreater(total_backoff, 0.05, "no backoff at all between retries")

    def test_retry_after_is_honoured(self):
        item = self.new_id("ra")
        self.mock.script(item, [{"status": 429, "retry_after": 1}])
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        reqs = self.mock.api_a_requests(item)
        self.assertEqual(len(reqs), 2, reqs)
        self.assertGreaterEqual(gaps(reqs)[0], 0.95, "retried before Retry-After: 1")
        self.assertGreaterEqual(r.elapsed, 0.95)
        # A Retry-After beyond the deadline (5 s) is not waited for past the deadline.
        item = self.new_id("ra30")
        self.mock.script(item, [{"status": 503, "retry_after": 30}, {}])
        r = self.external(item)
        self.assertIn(r.status, (502, 504), r)
        self.assertProblem(r, r.status)
        self.assertLessEqual(r.elapsed, 5.1, r)
        self.assertEqual(len(self.mock.api_a_requests(item)), 1, "retried before Retry-After: 30")

    def test_slow_try_times_out_and_is_retried(self):
        item = self.new_id("slow")
        self.mock.script(item, [{"delay": 2.6}])      # over the 2 s per-try timeout
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        reqs = self.mock.api_a_requests(item)
        self.assertEqual(len(reqs), 2, reqs)
        self.assertGreaterEqual(gaps(reqs)[0], 1.9)
        self.assertLess(r.elapsed, 2.6, "the first try was not cut at its timeout: %r" % r)

    def test_oversized_body_is_502(self):
        item = self.new_id("big")
        self.mock.script(item, [{"oversized": MIB}])
        r = self.external(item, timeout=30)
        self.assertEqual(r.status, 200, "a body of exactly 1 MiB is allowed: %r" % r)
        self.assertEqual(len(r.json()["data"]["pad"]), MIB - len('{"id":"%s","pad":""}' % item))
        for step in ({"oversized": MIB + 1}, {"oversized": 3 * MIB},
                     {"oversized": MIB + 1, "chunked": True}):
            with self.subTest(step=step):
                item = self.new_id("big")
                self.mock.script(item, [step] * 4)
                self.assertProblem(self.external(item, timeout=30), 502)

    def test_non_json_body_is_502(self):
        for step in ({"body": "<html><body>Service</body></html>", "content_type": "text/html"},
                     {"body": '{"id": "x", "price": '},
                     {"body": ""},
                     {"body": '{"a":1} trailing'},
                     {"body": "\xff\xfe{}"}):
            with self.subTest(step=step):
                item = self.new_id("nj")
                self.mock.script(item, [step] * 4)
                self.assertProblem(self.external(item), 502)

    def test_default_deadline_cuts_a_hang_at_5_s(self):
        item = self.new_id("hang")
        self.mock.script(item, [{"hang": 8}] * 5)
        r = self.external(item)
        self.assertProblem(r, 504)
        self.assertGreaterEqual(r.elapsed, 3.9, r)
        self.assertLessEqual(r.elapsed, 5.0 + 0.1 + 0.05, r)
        self.assertIn(len(self.mock.api_a_requests(item)), (2, 3), "tries of 2 s in 5 s")

    def test_refused_client_credentials_are_502(self):
        self.assertEqual(self.external(self.new_id("warm")).status, 200)
        self.mock.config("oauth", client_secret="rotated-elsewhere")
        try:
            self.mock.revoke()
            t0 = time.monotonic()
            r = self.external(self.new_id("refused"))
            self.assertProblem(r, 502)
            self.assertLess(time.monotonic() - t0, 2.0)
            answers = [e["status"] for e in self.mock.token_requests()]
            self.assertEqual(answers, [401], "one token request, refused")
        finally:
            self.mock.config("oauth", client_secret="s3cret")
        self.clear_breaker()
        r = self.external(self.new_id("again"))
        self.assertEqual(r.status, 200, r)

    def test_token_request_is_client_credentials_with_basic_auth_and_scope(self):
        self.stack.stop_app()
        try:
            self.stack.start_app(workers=self.workers, migrate=False,
                                 env=self.upstream_env(FL_OAUTH_SCOPE="items:read extra/scope"))
            self.stack.redis("DEL", "fl:oauth:token")     # no shared token either
            r = self.external(self.new_id("scope"))
            self.assertEqual(r.status, 200, r)
        finally:
            self.stack.stop_app()
            self.stack.start_app(workers=self.workers, env=self.upstream_env(), migrate=False)
        reqs = self.mock.token_requests()
        self.assertEqual(len(reqs), 1, reqs)
        t = reqs[0]
        self.assertEqual(t["method"], "POST")
        self.assertEqual(t["headers"].get("content-type", "").split(";")[0],
                         "application/x-www-form-urlencoded")
        self.assertEqual(t["headers"].get("authorization"),
                         "Basic " + base64.b64encode(b"farmlokal:s3cret").decode())
        self.assertEqual(urllib.parse.parse_qs(t["body"], strict_parsing=True),
                         {"grant_type": ["client_credentials"], "scope": ["items:read extra/scope"]})

    def test_provider_error_is_502_and_the_next_request_fetches_again(self):
        self.assertEqual(self.external(self.new_id("warm")).status, 200)
        self.mock.revoke()
        self.mock.config("oauth", fail_next=1)
        r = self.external(self.new_id("oauth500"))
        self.assertProblem(r, 502)
        r = self.external(self.new_id("oauthok"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["status"] for e in self.mock.token_requests()], [500, 200])

    def test_zy_redis_down_api_a_is_still_served(self):
        # Coordination needs Redis; the API does not stop for it. With Redis down each
        # worker keeps (or fetches) its own token, and the breaker is simply not shared.
        self.assertEqual(self.external(self.new_id("warm")).status, 200)
        self.stack.redis_kill()
        try:
            for _ in range(4):
                r = self.external(self.new_id("noredis"))
                self.assertEqual(r.status, 200, r)
            self.mock.revoke()
            for _ in range(4):
                r = self.external(self.new_id("noredis-rev"))
                self.assertEqual(r.status, 200, r)
            self.assertLessEqual(len(self.mock.token_requests()), 2, "at most one per worker")
        finally:
            self.restart_redis_and_wait()


# --------------------------------------------------------------------------------------
# API A: the request deadline
# --------------------------------------------------------------------------------------

class DeadlineTest(UpstreamTestCase):
    workers = 2
    env = {"FL_API_A_DEADLINE_MS": "1500", "FL_API_A_TIMEOUT_MS": "1000", "FL_API_A_RETRIES": "3"}
    NGINX_SLACK = 0.05

    def setUp(self):
        self.mock.reset("oauth", "api_a")
        self.clear_breaker()

    def test_hang_is_504_within_the_deadline(self):
        for run in range(2):
            item = self.new_id("hang")
            self.mock.script(item, [{"hang": 5}] * 5)
            r = self.external(item)
            self.assertProblem(r, 504)
            self.assertLessEqual(r.elapsed, 1.5 + 0.1 + self.NGINX_SLACK,
                                 "run %d took %.3f s, deadline 1.5 s" % (run, r.elapsed))
            self.assertGreaterEqual(r.elapsed, 0.95, r)
            n = len(self.mock.api_a_requests(item))
            self.assertIn(n, (1, 2), "tries within 1.5 s of 1 s each")
        self.clear_breaker()

    def test_slow_first_try_then_fast_answer(self):
        item = self.new_id("slow")
        self.mock.script(item, [{"delay": 1.3}])
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(r.elapsed, 1.6 + self.NGINX_SLACK, r)
        self.assertEqual(len(self.mock.api_a_requests(item)), 2)

    def test_slow_token_fetch_counts_against_the_deadline(self):
        self.assertEqual(self.external(self.new_id("warm")).status, 200)
        self.mock.config("oauth", delay=4.0)
        item = self.new_id("slowtok")
        self.mock.script(item, [{"status": 401}])     # forces a token fetch
        r = self.external(item)
        self.assertIn(r.status, (502, 504), r)
        self.assertProblem(r, r.status)
        self.assertLessEqual(r.elapsed, 1.6 + self.NGINX_SLACK, r)
        self.mock.config("oauth", delay=0)
        # The provider is fast again: the next request gets a token and succeeds.
        time.sleep(0.1)
        r = self.external(self.new_id("after"))
        self.assertEqual(r.status, 200, r)

    def test_retry_after_past_the_deadline_is_not_waited_for(self):
        item = self.new_id("ra")
        self.mock.script(item, [{"status": 503, "retry_after": 2}, {}])
        r = self.external(item)
        self.assertIn(r.status, (502, 504), r)
        self.assertLessEqual(r.elapsed, 1.6 + self.NGINX_SLACK, r)
        self.assertEqual(len(self.mock.api_a_requests(item)), 1)


# --------------------------------------------------------------------------------------
# API A: the circuit breaker
# --------------------------------------------------------------------------------------

class BreakerTest(UpstreamTestCase):
    workers = 2
    env = {"FL_API_A_RETRIES": "0", "FL_API_A_BREAKER_OPEN_MS": "1500"}

    def setUp(self):
        self.mock.reset("oauth", "api_a")
        self.clear_breaker()

    def fail_n(self, n, status=500):
        for i in range(n):
            item = self.new_id("f")
            self.mock.script(item, [{"status": status}])
            r = self.external(item)
            self.assertProblem(r, 502)
            self.assertEqual(len(self.mock.api_a_requests(item)), 1)

    def assertOpen(self, max_retry_after):
        item = self.new_id("open")
        r = self.external(item)
        self.assertProblem(r, 503)
        ra = r.headers.get("Retry-After")
        self.assertIsNotNone(ra, r)
        self.assertRegex(ra, r"^\d+$", r)
        self.assertTrue(1 <= int(ra) <= max_retry_after, r)
        self.assertEqual(self.mock.api_a_requests(item), [], "an open breaker called API A")
        return r

    def test_opens_after_five_failures_and_closes_after_a_good_trial(self):
        self.fail_n(5)
        t_open = time.monotonic()
        n_before = len(self.mock.requests("api_a"))
        for _ in range(3):
            self.assertOpen(2)
        self.assertEqual(len(self.mock.requests("api_a")), n_before)
        # After the open period one request goes through; it succeeds, the breaker closes.
        time.sleep(max(0.0, t_open + 1.5 + 0.2 - time.monotonic()))
        item = self.new_id("trial")
        r = self.external(item)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.mock.api_a_requests(item)), 1)
        for _ in range(5):
            r = self.external(self.new_id("closed"))
            self.assertEqual(r.status, 200, r)
        # Closed means counting from zero again: 4 failures do not open it.
        self.fail_n(4)
        self.assertEqual(self.external(self.new_id("still")).status, 200)

    def test_failed_trial_opens_it_again(self):
        self.fail_n(5)
        t_open = time.monotonic()
        self.assertOpen(2)
        time.sleep(max(0.0, t_open + 1.5 + 0.2 - time.monotonic()))
        self.fail_n(1)                 # the trial fails
        self.assertOpen(2)             # open again, at once
        time.sleep(1.7)
        r = self.external(self.new_id("trial2"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.external(self.new_id("closed")).status, 200)

    def test_half_open_lets_one_trial_through(self):
        self.fail_n(5)
        t_open = time.monotonic()
        time.sleep(max(0.0, t_open + 1.5 + 0.2 - time.monotonic()))
        trial = self.new_id("trial")
        self.mock.script(trial, [{"delay": 0.8}])
        results = {}
        t = threading.Thread(target=lambda: results.update(trial=self.external(trial)))
        t.start()
        time.sleep(0.3)                      # the trial is at API A now
        other = self.new_id("other")
        r = self.external(other)
        t.join()
        self.assertEqual(results["trial"].status, 200, results["trial"])
        self.assertProblem(r, 503)
        self.assertIsNotNone(r.headers.get("Retry-After"), r)
        self.assertEqual(self.mock.api_a_requests(other), [], "a second call during the trial")
        self.assertEqual(self.external(self.new_id("closed")).status, 200)

    def test_a_success_resets_the_count(self):
        self.fail_n(4)
        self.assertEqual(self.external(self.new_id("ok")).status, 200)
        self.fail_n(4)
        self.assertEqual(self.external(self.new_id("ok")).status, 200)

    def test_not_found_is_not_a_failure(self):
        self.fail_n(4)
        item = self.new_id("nf")
        self.mock.script(item, [{"status": 404}])
        self.assertProblem(self.external(item), 404)
        self.fail_n(4)
        self.assertEqual(self.external(self.new_id("ok")).status, 200)


# --------------------------------------------------------------------------------------
# OAuth: one fetch across workers
# --------------------------------------------------------------------------------------

class OAuthSingleFlightTest(UpstreamTestCase):
    workers = 4
    # Every worker must be able to wait on API A at once: the bulkhead is not under test.
    env = {"FL_API_A_MAX_INFLIGHT": "4"}

    @classmethod
    def prepare(cls):
        cls.stack.redis("FLUSHALL")   # no token anywhere: fresh Redis, fresh workers

    def burst(self, n=100, threads=50, tag="b"):
        """n concurrent GETs (threads at once); returns the responses."""
        def one(i):
            return self.external("%s-%d" % (tag, i), timeout=30)
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, range(n)))

    def test_one_token_fetch_for_many_requests_on_many_workers(self):
        self.assertEqual(len(self.stack.worker_pids()), 4)
        self.mock.reset("oauth", "api_a")
        self.mock.config("oauth", delay=0.3, expires_in=4)

        # 1. Nothing cached: 100 concurrent requests, one token request.
        t0 = time.monotonic()
        rs = self.burst(tag="first")
        took = time.monotonic() - t0
        bad = [r for r in rs if r.status != 200]
        self.assertEqual(bad, [], "%d of 100 failed" % len(bad))
        tokens = self.mock.token_requests()
        self.assertEqual(len(tokens), 1, "token requests: %s" % [t.get("token") for t in tokens])
        self.assertLess(took, 3.0, "the burst must end before the token expires")
        first = tokens[0]

        # 2. The token expires (4 s - 10% skew = 3.6 s after it was issued): one new fetch.
        self.mock.config("oauth", expires_in=3600)
        issued = first["mono"] + 0.3
        time.sleep(max(0.0, issued + 3.6 + 0.3 - time.monotonic()))
        n_a = len(self.mock.requests("api_a"))
        rs = self.burst(tag="second")
        bad = [r for r in rs if r.status != 200]
        self.assertEqual(bad, [], "%d of 100 failed" % len(bad))
        tokens = self.mock.token_requests()
        self.assertEqual(len(tokens), 2, "one more token request after expiry, got %s"
                         % [t.get("token") for t in tokens])
        second = tokens[1]["token"]
        used = collections.Counter(e["headers"].get("authorization")
                                   for e in self.mock.requests("api_a")[n_a:])
        self.assertEqual(set(used), {"Bearer " + second},
                         "after expiry only the new token is used: %s" % used)

        # 3. The provider revokes everything: the 401s lead to exactly one more fetch.
        self.mock.revoke()
        rs = self.burst(tag="third")
        bad = [r for r in rs if r.status != 200]
        self.assertEqual(bad, [], "%d of 100 failed after a revocation: %r" % (len(bad), bad[:1]))
        tokens = self.mock.token_requests()
        self.assertEqual(len(tokens), 3, "one more token request after a revocation, got %s"
                         % [t.get("token") for t in tokens])


# --------------------------------------------------------------------------------------
# Webhooks from API B
# --------------------------------------------------------------------------------------

def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def utcfromtimestamp(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).replace(tzinfo=None)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(event_id, sku, occurred_at=None, **data):
    ev = {"event_id": event_id, "type": "product.updated", "data": dict(sku=sku, **data)}
    if occurred_at is not None:
        ev["occurred_at"] = occurred_at
    return ev


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


class WebhookMixin:
    seed_rows = 2000

    @classmethod
    def seed(cls):
        cls.stack.seed(cls.seed_rows)
        rows = cls.stack.sql("SELECT id, sku FROM products ORDER BY id", database="farmlokal")
        cls.skus = [(int(i), s) for i, s in rows]

    def product(self, pid):
        r = self.get("/api/products/%d" % pid)
        self.assertEqual(r.status, 200, r)
        return r.json()["data"]

    def post_webhook(self, body, headers):
        if isinstance(body, str):
            body = body.encode()
        return self.request("POST", WEBHOOK_PATH, body=body, headers=headers, timeout=30)

    def deliver(self, ev, secret=WEBHOOK_SECRET, msg_id=None, timestamp=None, body=None,
                extra_headers=None):
        """POST one signed delivery; body defaults to the event's compact JSON."""
        body = compact(ev) if body is None else body
        msg_id = ev["event_id"] if msg_id is None else msg_id
        headers = self.mock.sign(secret, msg_id, body, timestamp)
        headers.update(extra_headers or {})
        return self.post_webhook(body, headers)

    def recorded(self, *event_ids):
        if not event_ids:
            return {}
        rows = self.stack.sql("SELECT event_id, outcome FROM webhook_events WHERE event_id IN (%s)"
                              % ",".join("'%s'" % e for e in event_ids), database="farmlokal")
        return dict(rows)

    def assertOutcome(self, r, message=None):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, "application/json", r)
        want = {"status": "success"} if message is None else {"status": "ignored", "message": message}
        self.assertEqual(r.json(), want, r)


class WebhookTest(WebhookMixin, UpstreamTestCase):
    workers = 2

    @classmethod
    def prepare(cls):
        cls.seed()
        cls.next_product = 0

    def setUp(self):
        self.mock.reset("api_b")

    def take_product(self):
        """A product no other test of this class touches."""
        type(self).next_product += 1
        pid, sku = self.skus[type(self).next_product * 7]
        return pid, sku

    def eid(self):
        return "evt_" + secrets.token_hex(8)

    # -- signatures --------------------------------------------------------------------

    def test_bad_signatures_are_401_and_nothing_is_recorded(self):
        pid, sku = self.take_product()
        before = self.product(pid)
        ids = []

        def check(r, what):
            with self.subTest(what):
                self.assertProblem(r, 401)

        ev = event(self.eid(), sku, price="1.11"); ids.append(ev["event_id"])
        check(self.post_webhook(compact(ev), {"Content-Type": "application/json"}), "unsigned")
        ev = event(self.eid(), sku, price="1.12"); ids.append(ev["event_id"])
        h = self.mock.sign(WEBHOOK_SECRET, ev["event_id"], compact(ev))
        del h["webhook-signature"]
        check(self.post_webhook(compact(ev), h), "no signature header")
        ev = event(self.eid(), sku, price="1.13"); ids.append(ev["event_id"])
        check(self.deliver(ev, secret=OTHER_SECRET), "wrong secret")
        ev = event(self.eid(), sku, price="1.14"); ids.append(ev["event_id"])
        h = self.mock.sign(WEBHOOK_SECRET, ev["event_id"], compact(ev))
        check(self.post_webhook(compact(ev).replace("1.14", "9.14"), h), "body changed after signing")
        ev = event(self.eid(), sku, price="1.15"); ids.append(ev["event_id"])
        h = self.mock.sign(WEBHOOK_SECRET, ev["event_id"], compact(ev))
        h["webhook-signature"] = "v2," + h["webhook-signature"][3:]
        check(self.post_webhook(compact(ev), h), "unknown signature version")
        ev = event(self.eid(), sku, price="1.16"); ids.append(ev["event_id"])
        h = self.mock.sign(WEBHOOK_SECRET, "evt_other", compact(ev))
        h["webhook-id"] = ev["event_id"]
        check(self.post_webhook(compact(ev), h), "signature made for another id")
        ev = event(self.eid(), sku, price="1.17"); ids.append(ev["event_id"])
        check(self.deliver(ev, timestamp=int(time.time()) + 600), "timestamp 10 minutes ahead")
        for bad_ts in ("", "abc", "%d.5" % time.time(), "-1", "1e9", "99999999999999999999"):
            ev = event(self.eid(), sku, price="1.20"); ids.append(ev["event_id"])
            check(self.deliver(ev, timestamp=bad_ts), "timestamp %r" % bad_ts)
        # Stale: the sender signs every delivery with a timestamp 10 minutes old.
        stale = [event(self.eid(), sku, price="1.18"), event(self.eid(), sku, price="1.19")]
        ids += [e["event_id"] for e in stale]
        res = self.mock.send(target=self.stack.base_url + WEBHOOK_PATH, secret=WEBHOOK_SECRET,
                             events=stale, timestamp_offset=-600, max_attempts=1, retry_on=[])
        self.assertEqual([x["status"] for x in res["results"]], [401, 401], res)
        self.assertEqual(self.recorded(*ids), {}, "rejected deliveries were recorded")
        self.assertEqual(self.product(pid), before, "a rejected delivery changed the product")

    def test_rotated_secrets_several_signatures(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, price="3.21")
        body = compact(ev)
        h = self.mock.sign([OTHER_SECRET, WEBHOOK_SECRET], ev["event_id"], body)
        self.assertEqual(len(h["webhook-signature"].split(" ")), 2)
        self.assertOutcome(self.post_webhook(body, h))
        self.assertEqual(self.product(pid)["price"], "3.21")

    def test_timestamp_within_tolerance_is_accepted(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, stock=77)
        self.assertOutcome(self.deliver(ev, timestamp=int(time.time()) - 240))
        self.assertEqual(self.product(pid)["stock"], 77)

    # -- bodies --------------------------------------------------------------------------

    def test_malformed_bodies_are_400_and_nothing_is_recorded(self):
        pid, sku = self.take_product()
        before = self.product(pid)
        cases = {
            "not json": "{not json",
            "truncated": '{"event_id":"%s","type":"product.updated","data":{"sku":"' + sku,
            "array": "[1,2]",
            "no data": '{"event_id":"%s","type":"product.updated"}',
            "no sku": '{"event_id":"%s","type":"product.updated","data":{"price":"1.00"}}',
            "nothing to change": '{"event_id":"%s","type":"product.updated","data":{"sku":"' + sku + '"}}',
            "bad price": '{"event_id":"%s","type":"product.updated","data":{"sku":"' + sku
                         + '","price":"abc"}}',
            "bad occurred_at": '{"event_id":"%s","type":"product.updated","occurred_at":"yesterday",'
                               '"data":{"sku":"' + sku + '","price":"1.00"}}',
            "other type": '{"event_id":"%s","type":"product.deleted","data":{"sku":"' + sku
                          + '","price":"1.00"}}',
            "unknown data field": '{"event_id":"%s","type":"product.updated","data":{"sku":"' + sku
                                  + '","price":"1.00","colour":"red"}}',
        }
        ids = []
        for what, template in cases.items():
            with self.subTest(what):
                eid = self.eid()
                ids.append(eid)
                body = template.replace("%s", eid)
                self.assertProblem(self.deliver(None, msg_id=eid, body=body), 400)
        self.assertEqual(self.recorded(*ids), {})
        self.assertEqual(self.product(pid), before)

    def test_event_id_must_equal_webhook_id(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, price="4.44")
        self.assertProblem(self.deliver(ev, msg_id="evt_something_else"), 400)
        self.assertEqual(self.recorded(ev["event_id"], "evt_something_else"), {})
        self.assertNotEqual(self.product(pid)["price"], "4.44")

    def test_non_json_content_type_is_415(self):
        pid, sku = self.take_product()
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
            with self.subTest(ctype=ctype):
                ev = event(self.eid(), sku, price="5.55")
                self.assertProblem(self.deliver(ev, extra_headers={"content-type": ctype}), 415)
                self.assertEqual(self.recorded(ev["event_id"]), {})
        # With parameters it is still JSON.
        ev = event(self.eid(), sku, price="5.56")
        self.assertOutcome(self.deliver(ev, extra_headers={"content-type": "application/json; charset=utf-8"}))

    def test_body_over_256_kib_is_413(self):
        pid, sku = self.take_product()

        def padded(size, price):
            ev = event(self.eid(), sku, price=price)
            ev["meta"] = ""
            ev["meta"] = "x" * (size - len(compact(ev)))
            body = compact(ev)
            self.assertEqual(len(body), size)
            return ev, body

        ev, body = padded(WEBHOOK_LIMIT + 1, "6.61")
        self.assertProblem(self.deliver(ev, body=body), 413)
        ev, body = padded(WEBHOOK_LIMIT + 200 * 1024, "6.62")
        self.assertProblem(self.deliver(ev, body=body), 413)
        ev2, body = padded(WEBHOOK_LIMIT, "6.63")
        self.assertOutcome(self.deliver(ev2, body=body))
        self.assertEqual(self.recorded(ev["event_id"]), {})
        self.assertEqual(self.product(pid)["price"], "6.63")

    # -- applying -----------------------------------------------------------------------

    def test_first_delivery_applies_and_invalidates_the_listing_cache(self):
        listing = "/api/products?sort=newest&limit=5"
        r1 = self.get(listing)
        r2 = self.get(listing)
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r2.headers.get("X-Cache"), "HIT", r2)
        target = r2.json()["data"][2]
        new_price = "4321.09" if target["price"] != "4321.09" else "4321.10"
        ev = event(self.eid(), target["sku"], occurred_at=iso(utcnow()),
                   price=new_price, stock=target["stock"] + 5, name="Renamed by webhook")
        self.assertOutcome(self.deliver(ev))
        got = self.product(target["id"])
        self.assertEqual((got["price"], got["stock"], got["name"]),
                         (new_price, target["stock"] + 5, "Renamed by webhook"))
        self.assertGreater(got["updated_at"], target["updated_at"])
        r3 = self.get(listing)
        self.assertEqual(r3.status, 200, r3)
        row = [p for p in r3.json()["data"] if p["id"] == target["id"]]
        self.assertEqual(len(row), 1, r3)
        self.assertEqual(row[0]["price"], new_price, "the listing still shows the old price: %r" % r3)
        self.assertEqual(row[0]["name"], "Renamed by webhook")
        # The new name is searchable (the word index was kept in step).
        r4 = self.get("/api/products?search=renamed&limit=100")
        self.assertIn(target["id"], [p["id"] for p in r4.json()["data"]], r4)
        self.assertEqual(self.recorded(ev["event_id"]), {ev["event_id"]: "applied"})

    def test_price_as_json_number(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, price=12.5)
        self.assertOutcome(self.deliver(ev))
        self.assertEqual(self.product(pid)["price"], "12.50")

    def test_price_change_moves_the_product_in_search_listings(self):
        # A price-only event keeps the product's words, and searches that filter or sort
        # by price see the new price at once (the search index carries it).
        pid, sku = self.take_product()
        word = self.product(pid)["name"].split()[0]
        self.assertOutcome(self.deliver(event(self.eid(), sku, price="99999.98")))
        for sort in ("price_desc", "newest", "name_asc"):
            r = self.get("/api/products?search=%s&minPrice=99999.98&maxPrice=99999.98&sort=%s"
                         % (urllib.parse.quote(word), sort))
            self.assertEqual([p["id"] for p in r.json()["data"]], [pid], r)
        r = self.get("/api/products?search=%s&sort=price_desc&limit=1" % urllib.parse.quote(word))
        self.assertEqual([p["id"] for p in r.json()["data"]], [pid], r)

    def test_redelivery_is_ignored_and_never_applied_twice(self):
        pid, sku = self.take_product()
        t = datetime.datetime(2026, 6, 1, 12, 0, 0)
        e1 = event(self.eid(), sku, occurred_at=iso(t), price="11.11", stock=11)
        e2 = event(self.eid(), sku, occurred_at=iso(t + datetime.timedelta(seconds=1)),
                   price="22.22", stock=22)
        self.assertOutcome(self.deliver(e1))
        self.assertOutcome(self.deliver(e2))
        self.assertOutcome(self.deliver(e1), "Already processed")
        self.assertOutcome(self.deliver(e2), "Already processed")
        p = self.product(pid)
        self.assertEqual((p["price"], p["stock"]), ("22.22", 22))
        # Redis forgets: MySQL still remembers.
        self.stack.redis("FLUSHALL")
        self.assertOutcome(self.deliver(e1), "Already processed")
        self.assertOutcome(self.deliver(e2), "Already processed")
        p = self.product(pid)
        self.assertEqual((p["price"], p["stock"]), ("22.22", 22))
        self.assertEqual(self.recorded(e1["event_id"], e2["event_id"]),
                         {e1["event_id"]: "applied", e2["event_id"]: "applied"})

    def test_concurrent_duplicates_apply_once(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, occurred_at=iso(datetime.datetime(2026, 6, 2)), price="31.41",
                   stock=314)
        res = self.mock.send(target=self.stack.base_url + WEBHOOK_PATH, secret=WEBHOOK_SECRET,
                             events=[ev], duplicates=12, concurrency=12)
        self.assertEqual(res["failed"], [], res)
        answers = collections.Counter(compact(x["response"]) for x in res["results"])
        self.assertEqual(answers, {compact({"status": "success"}): 1,
                                   compact({"status": "ignored", "message": "Already processed"}): 11},
                         res["results"])
        self.assertEqual(self.recorded(ev["event_id"]), {ev["event_id"]: "applied"})

    def test_older_event_after_newer_is_stale(self):
        pid, sku = self.take_product()
        t = datetime.datetime(2026, 7, 1, 8, 0, 0, 500000)
        newer = event(self.eid(), sku, occurred_at=iso(t), price="77.70", stock=770)
        older = event(self.eid(), sku, occurred_at=iso(t - datetime.timedelta(microseconds=1)),
                      price="66.60", stock=660)
        same = event(self.eid(), sku, occurred_at=iso(t), price="55.50", stock=550)
        self.assertOutcome(self.deliver(newer))
        self.assertOutcome(self.deliver(older), "Stale event")
        self.assertOutcome(self.deliver(same), "Stale event")
        self.assertOutcome(self.deliver(older), "Already processed")
        p = self.product(pid)
        self.assertEqual((p["price"], p["stock"]), ("77.70", 770))
        self.assertEqual(self.recorded(newer["event_id"], older["event_id"], same["event_id"]),
                         {newer["event_id"]: "applied", older["event_id"]: "stale",
                          same["event_id"]: "stale"})
        # occurred_at with an offset is the same instant in UTC: still stale.
        plus2 = event(self.eid(), sku, occurred_at="2026-07-01T10:00:00.500000+02:00", price="44.40")
        self.assertOutcome(self.deliver(plus2), "Stale event")

    def test_occurred_at_defaults_to_the_webhook_timestamp(self):
        pid, sku = self.take_product()
        ts = int(time.time()) - 30
        ev = event(self.eid(), sku, stock=4242)
        self.assertOutcome(self.deliver(ev, timestamp=ts))
        self.assertEqual(self.product(pid)["stock"], 4242)
        older = event(self.eid(), sku, occurred_at=iso(utcfromtimestamp(ts - 1)),
                      stock=1)
        self.assertOutcome(self.deliver(older), "Stale event")
        newer = event(self.eid(), sku, occurred_at=iso(utcfromtimestamp(ts + 1)),
                      stock=2)
        self.assertOutcome(self.deliver(newer))
        self.assertEqual(self.product(pid)["stock"], 2)

    def test_occurred_at_before_1970_with_a_fraction(self):
        # A valid RFC 3339 time before 1970 with a fraction of a second: accepted (and then
        # ordered correctly) or refused as 400, but never a 5xx that senders retry forever.
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, occurred_at="1969-12-31T23:59:59.500000Z", stock=1969)
        r = self.deliver(ev)
        self.assertIn(r.status, (200, 400), r)
        if r.status == 200:
            self.assertOutcome(r)
            self.assertEqual(self.product(pid)["stock"], 1969)
            older = event(self.eid(), sku, occurred_at="1969-12-31T23:59:59.400000Z", stock=1)
            self.assertOutcome(self.deliver(older), "Stale event")
            newer = event(self.eid(), sku, occurred_at="1969-12-31T23:59:59.600000Z", stock=2)
            self.assertOutcome(self.deliver(newer))

    def test_occurred_at_that_is_not_a_date_is_400(self):
        pid, sku = self.take_product()
        for when in ("2026-02-29T12:00:00Z", "2026-04-31T12:00:00Z", "2026-13-01T00:00:00Z"):
            with self.subTest(occurred_at=when):
                ev = event(self.eid(), sku, occurred_at=when, stock=229)
                self.assertProblem(self.deliver(ev), 400)
                self.assertEqual(self.recorded(ev["event_id"]), {})

    def test_occurred_at_beyond_year_9999_in_utc_is_400(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, occurred_at="9999-12-31T23:30:00-01:00", stock=10000)
        r = self.deliver(ev)
        self.assertProblem(r, 400)

    def test_no_secret_configured_is_401(self):
        pid, sku = self.take_product()
        env = self.upstream_env(FL_WEBHOOK_SECRET=None)
        self.stack.stop_app()
        try:
            self.stack.start_app(workers=self.workers, env=env, migrate=False)
            ev = event(self.eid(), sku, price="2.22")
            self.assertProblem(self.deliver(ev), 401)
            h = self.mock.sign(WEBHOOK_SECRET, ev["event_id"], compact(ev))
            h["webhook-signature"] = ""
            self.assertProblem(self.post_webhook(compact(ev), h), 401)
        finally:
            self.stack.stop_app()
            self.stack.start_app(workers=self.workers, env=self.upstream_env(), migrate=False)
        self.assertEqual(self.recorded(ev["event_id"]), {})

    def test_redis_down_webhooks_still_apply_exactly_once(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, occurred_at=iso(datetime.datetime(2026, 9, 1)), price="19.19")
        self.stack.redis_kill()
        try:
            self.assertOutcome(self.deliver(ev))
            self.assertOutcome(self.deliver(ev), "Already processed")
            self.assertEqual(self.product(pid)["price"], "19.19")
        finally:
            self.restart_redis_and_wait()
        self.assertOutcome(self.deliver(ev), "Already processed")

    def test_unknown_sku(self):
        ev = event(self.eid(), "NOPE-000000001", price="1.00")
        self.assertOutcome(self.deliver(ev), "Unknown product")
        self.assertOutcome(self.deliver(ev), "Already processed")
        self.assertEqual(self.recorded(ev["event_id"]), {ev["event_id"]: "unknown_product"})

    def test_mysql_down_is_503_then_the_retry_applies_once(self):
        pid, sku = self.take_product()
        ev = event(self.eid(), sku, occurred_at=iso(datetime.datetime(2026, 8, 1)), price="88.88")
        self.stack.mysql_kill()
        try:
            r = self.deliver(ev)
            self.assertProblem(r, 503)
        finally:
            self.stack.mysql_start()
        self.assertEqual(self.recorded(ev["event_id"]), {})
        r = poll(lambda: (lambda r: r if r.status == 200 else None)(self.deliver(ev)), timeout=10)
        self.assertIsNotNone(r)
        self.assertOutcome(r)
        # A worker whose connect failed leaves MySQL alone for its breaker's probe interval
        # (1 s): let every worker get its connection back.
        self.assertTrue(poll(lambda: all(self.get("/api/health").status == 200 for _ in range(8)),
                             timeout=10), "the app did not recover from the MySQL restart")
        self.assertOutcome(self.deliver(ev), "Already processed")
        page = poll(lambda: (lambda r: r if r.status == 200 else None)(
            self.get("/api/products/%d" % pid)), timeout=5)
        self.assertIsNotNone(page, "a worker did not recover from the MySQL restart")
        self.assertEqual(page.json()["data"]["price"], "88.88")

    # -- registration -------------------------------------------------------------------

    def test_webhook_register_is_idempotent(self):
        env = self.upstream_env(FL_PUBLIC_URL="http://127.0.0.1:8080", FL_BASE_PATH="/api")
        # API B fails once: the command fails, prints no secret and stores nothing.
        self.mock.config("api_b", fail_next=1)
        res = self.stack.ctl("webhook-register", env=env)
        self.assertNotEqual(res.returncode, 0)
        self.assertNotIn(b"FL_WEBHOOK_SECRET=", res.stdout)
        self.assertEqual(self.mock.state("api_b")["subscriptions"], [])
        outs = []
        for run in range(2):
            res = self.stack.ctl("webhook-register", env=env)
            out = res.stdout.decode("utf-8", "replace")
            self.assertEqual(res.returncode, 0, out + res.stderr.decode("utf-8", "replace"))
            self.assertNotIn("tok-", out + res.stderr.decode("utf-8", "replace"))
            outs.append(out)
        secrets_ = [re.findall(r"^FL_WEBHOOK_SECRET=(whsec_\S+)$", o, re.M) for o in outs]
        self.assertEqual([len(s) for s in secrets_], [1, 1], outs)
        self.assertEqual(secrets_[0], secrets_[1], "the second run must print the same secret")
        subs = self.mock.state("api_b")["subscriptions"]
        self.assertEqual(len(subs), 1, subs)
        self.assertEqual(subs[0]["url"], "http://127.0.0.1:8080/api/webhooks/update")
        self.assertEqual(subs[0]["events"], ["product.updated"])
        self.assertEqual(subs[0]["secret"], secrets_[0][0])
        posts = [e for e in self.mock.requests("api_b") if e["method"] == "POST"]
        for p in posts:
            self.assertRegex(p["headers"].get("authorization", ""), r"^Bearer tok-\d+$")


# --------------------------------------------------------------------------------------
# Webhooks: 10,000 deliveries of 7,000 events, Redis flushed and MySQL restarted meanwhile
# --------------------------------------------------------------------------------------

class WebhookStormTest(WebhookMixin, UpstreamTestCase):
    workers = 4
    PRODUCTS = 500
    EVENTS = 7000
    DELIVERIES = 10000

    @classmethod
    def prepare(cls):
        cls.seed()

    def make_events(self, rng, products):
        """EVENTS events over products; per product increasing occurred_at."""
        per = collections.defaultdict(list)
        base = datetime.datetime(2026, 3, 1, 0, 0, 0)
        owners = [products[i % len(products)] for i in range(self.EVENTS)]
        rng.shuffle(owners)
        events = []
        for n, (pid, sku) in enumerate(owners):
            k = len(per[sku])
            # Per product strictly increasing, in pairs 1 microsecond apart.
            t = base + datetime.timedelta(seconds=(k // 2) * 60 + pid % 17, microseconds=k % 2)
            data = {"price": "%d.%02d" % (rng.randrange(1, 5000), rng.randrange(100)),
                    "stock": rng.randrange(0, 100000)}
            ev = event("evt_storm_%05d" % n, sku, occurred_at=iso(t), **data)
            per[sku].append(ev)
            events.append(ev)
        return events, per

    def test_storm_with_redis_flush_and_mysql_restart(self):
        rng = random.Random(20260301)
        products = rng.sample(self.skus, self.PRODUCTS)
        events, per = self.make_events(rng, products)
        deliveries = events + rng.sample(events, self.DELIVERIES - self.EVENTS)
        by_id = {e["event_id"]: e for e in events}
        sku_of = {e["event_id"]: e["data"]["sku"] for e in events}

        chaos = {"flushed_at": None, "mysql_restarted_at": None, "errors": []}
        stop = threading.Event()
        s = self.stack

        def recorded_count():
            return int(s.sql("SELECT COUNT(*) FROM webhook_events", database="farmlokal")[0][0])

        def side():
            try:
                while not stop.is_set() and recorded_count() < 0.3 * self.EVENTS:
                    time.sleep(0.1)
                if stop.is_set():
                    return
                s.redis("FLUSHALL")
                chaos["flushed_at"] = recorded_count()
                while not stop.is_set() and recorded_count() < 0.6 * self.EVENTS:
                    time.sleep(0.1)
                if stop.is_set():
                    return
                chaos["mysql_restarted_at"] = recorded_count()
                s.mysql_kill()
                s.mysql_start()
            except Exception as e:    # reported below
                chaos["errors"].append(repr(e))

        thread = threading.Thread(target=side, daemon=True)
        thread.start()
        t0 = time.monotonic()
        try:
            res = self.mock.send(target=s.base_url + WEBHOOK_PATH, secret=WEBHOOK_SECRET,
                                 events=deliveries, concurrency=8, shuffle=True, seed=42,
                                 retry_on=[503, 502, 500], max_attempts=200, backoff=0.05,
                                 timeout=30)
        finally:
            stop.set()
            thread.join(60)
        took = time.monotonic() - t0
        sys.stderr.write("\nstorm: %d deliveries in %.1f s (%s); flush at %s, MySQL restart at %s "
                         "recorded events\n" % (len(deliveries), took, res["statuses"],
                                                chaos["flushed_at"], chaos["mysql_restarted_at"]))
        self.assertEqual(chaos["errors"], [])
        self.assertIsNotNone(chaos["flushed_at"], "Redis was not flushed during the run")
        self.assertIsNotNone(chaos["mysql_restarted_at"], "MySQL was not restarted during the run")
        self.assertEqual(res["failed"], [], "deliveries never answered 2xx")
        self.assertEqual(res["delivered"], self.DELIVERIES)

        # Every answer is one the spec allows.
        allowed = {compact({"status": "success"}),
                   compact({"status": "ignored", "message": "Stale event"}),
                   compact({"status": "ignored", "message": "Already processed"})}
        answers = collections.Counter(compact(x["response"]) for x in res["results"])
        self.assertLessEqual(set(answers), allowed, answers)
        self.assertGreaterEqual(answers[compact({"status": "ignored", "message": "Already processed"})],
                                self.DELIVERIES - self.EVENTS, answers)
        self.assertGreater(answers[compact({"status": "ignored", "message": "Stale event"})],
                           self.EVENTS // 10, "the shuffle should make many events stale")

        # Exactly the 7,000 distinct events are recorded, each once.
        rows = s.sql("SELECT event_id, outcome, DATE_FORMAT(occurred_at, '%Y-%m-%dT%H:%i:%s.%fZ'), "
                     "DATE_FORMAT(received_at, '%Y-%m-%dT%H:%i:%s.%fZ') FROM webhook_events",
                     database="farmlokal")
        self.assertEqual(len(rows), self.EVENTS)
        self.assertEqual({r[0] for r in rows}, set(by_id))
        outcomes = collections.Counter(r[1] for r in rows)
        self.assertLessEqual(set(outcomes), {"applied", "stale"}, outcomes)

        # Every product ends with its newest event's values.
        want = {}
        for sku, evs in per.items():
            newest = max(evs, key=lambda e: e["occurred_at"])
            want[sku] = (newest["data"]["price"], newest["data"]["stock"], newest["occurred_at"])
        got = {}
        for sku_, price, stock, last in s.sql(
                "SELECT sku, price, stock, DATE_FORMAT(last_event_at, '%Y-%m-%dT%H:%i:%s.%fZ') "
                "FROM products WHERE sku IN (" + ",".join("'%s'" % k for k in want) + ")",
                database="farmlokal"):
            got[sku_] = (price, int(stock), last)
        wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        self.assertEqual(wrong, {}, "%d products do not hold their newest event (got, want)"
                         % len(wrong))

        # Applied events of each product, in the order they were received, have strictly
        # increasing occurred_at, and the last one is the newest event.
        applied = collections.defaultdict(list)
        for eid, outcome, occurred, received in rows:
            self.assertEqual(occurred, by_id[eid]["occurred_at"], eid)
            if outcome == "applied":
                applied[sku_of[eid]].append((received, occurred, eid))
        for sku, evs in applied.items():
            evs.sort()
            occ = [o for _, o, _ in evs]
            self.assertTrue(all(a < b for a, b in zip(occ, occ[1:])),
                            "%s: applied out of order: %s" % (sku, evs))
            self.assertEqual(occ[-1], want[sku][2], sku)
        self.assertEqual(set(applied), set(want), "a product had no event applied")

        # No event answered "success" twice; stale ones never did.
        successes = collections.Counter(x["event_id"] for x in res["results"]
                                        if x["response"] == {"status": "success"})
        self.assertEqual([e for e, n in successes.items() if n > 1], [], "applied twice")
        outcome_of = {r[0]: r[1] for r in rows}
        self.assertEqual([e for e in successes if outcome_of[e] != "applied"], [])
        n_applied = outcomes["applied"]
        # A commit whose answer was lost in the MySQL kill may turn one "success" into an
        # "Already processed" on the sender's retry; never the other way round.
        self.assertLessEqual(len(successes), n_applied)
        self.assertGreaterEqual(len(successes), n_applied - 8, "successes %d, applied %d"
                                % (len(successes), n_applied))


if __name__ == "__main__":
    unittest.main()
