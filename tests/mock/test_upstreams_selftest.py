# SPDX-License-Identifier: MIT
"""Self-test of tests/mock/upstreams.py (standard library only, a few seconds).

    python3 tests/mock/test_upstreams_selftest.py        (or: python3 -m unittest ...)

Starts upstreams.py as a subprocess, exercises every mock and control verb, and stops it
with SIGTERM (which must exit 0). The webhook sender is checked against a small receiver
in this process that verifies signatures with its own HMAC code.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAMS = os.path.join(HERE, "upstreams.py")
BASIC = "Basic " + base64.b64encode(b"farmlokal:s3cret").decode()
FORM = "application/x-www-form-urlencoded"


def request(base, method, path, body=None, headers=None, timeout=10):
    """(status, headers, body bytes) of one request on a fresh connection."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r, r.read()
    finally:
        conn.close()


class Receiver:
    """A webhook endpoint: verifies Standard Webhooks signatures itself, answers 503 to
    the first attempt of the ids in fail_first, 200 success / ignored on duplicates."""

    def __init__(self, secret, fail_first=()):
        self.key = base64.b64decode(secret[len("whsec_"):])
        self.fail_first = set(fail_first)
        self.lock = threading.Lock()
        self.attempts, self.applied, self.bad = {}, set(), []
        self.inflight = self.max_inflight = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, answer = outer.handle(self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/api/webhooks/update" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def verify(self, headers, body):
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        mac = hmac.new(self.key, msg_id.encode() + b"." + ts.encode() + b"." + body,
                       hashlib.sha256).digest()
        want = "v1," + base64.b64encode(mac).decode()
        fresh = abs(time.time() - int(ts)) <= 300
        return fresh and any(hmac.compare_digest(want, s)
                             for s in headers["webhook-signature"].split(" "))

    def handle(self, headers, body):
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        time.sleep(0.03)                 # long enough for concurrent senders to overlap
        with self.lock:
            self.inflight -= 1
            if not self.verify(headers, body):
                self.bad.append(headers.get("webhook-id"))
                return 401, {"status": "error"}
            event = json.loads(body)
            if event["event_id"] != headers["webhook-id"] \
                    or headers["Content-Type"] != "application/json":
                self.bad.append(event["event_id"])
                return 400, {"status": "error"}
            n = self.attempts[event["event_id"]] = self.attempts.get(event["event_id"], 0) + 1
            if n == 1 and event["event_id"] in self.fail_first:
                return 503, {"status": "error"}
            if event["event_id"] in self.applied:
                return 200, {"status": "ignored", "message": "Already processed"}
            self.applied.add(event["event_id"])
            return 200, {"status": "success"}

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class UpstreamsSelfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fl-mock-")
        port_file = os.path.join(cls.tmp, "ports.json")
        cls.proc = subprocess.Popen([sys.executable, UPSTREAMS, "--port-file", port_file])
        deadline = time.monotonic() + 5
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or cls.proc.poll() is not None:
                cls.proc.kill()
                raise RuntimeError("upstreams.py did not write its port file")
            time.sleep(0.02)
        with open(port_file) as f:
            cls.urls = json.load(f)

    @classmethod
    def tearDownClass(cls):
        # SIGTERM must stop the mocks promptly even while a handler is in a long hang.
        request(cls.urls["api_a"], "POST", "/_control/script",
                {"id": "h", "steps": [{"hang": 30}]})
        request(cls.urls["api_a"], "POST", "/_control/config", {"require_auth": False})
        hung = threading.Thread(target=lambda: cls.swallow(request, cls.urls["api_a"], "GET",
                                                           "/items/h", timeout=5), daemon=True)
        hung.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        cls.proc.send_signal(signal.SIGTERM)
        try:
            rc = cls.proc.wait(5)
            stop_time = time.monotonic() - t0
        finally:
            if cls.proc.poll() is None:
                cls.proc.kill()
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc != 0 or stop_time > 1.5:
            raise AssertionError("upstreams.py exited with %r %.1f s after SIGTERM"
                                 % (rc, stop_time))

    @staticmethod
    def swallow(fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except OSError:
            pass

    # helpers -------------------------------------------------------------------------
    def setUp(self):
        for name in self.urls:
            self.ctl(name, "reset")

    def ctl(self, name, verb, data=None, method=None):
        status, _, body = request(self.urls[name], method or ("POST" if data is not None
                                  or verb in ("reset", "revoke") else "GET"),
                                  "/_control/" + verb, data if data is not None else None,
                                  timeout=30)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def token_request(self, form="grant_type=client_credentials", auth=BASIC):
        return request(self.urls["oauth"], "POST", "/token", form,
                       {"Content-Type": FORM, "Authorization": auth})

    def token(self):
        status, _, body = self.token_request()
        self.assertEqual(status, 200, body)
        return json.loads(body)["access_token"]

    def item(self, item_id, token, timeout=10):
        return request(self.urls["api_a"], "GET", "/items/" + item_id,
                       headers={"Authorization": "Bearer " + token}, timeout=timeout)

    # OAuth ---------------------------------------------------------------------------
    def test_oauth_issues_and_counts_tokens(self):
        self.ctl("oauth", "config", {"expires_in": 120})
        s, r, b = self.token_request("grant_type=client_credentials&scope=products.read")
        self.assertEqual(s, 200, b)
        first = json.loads(b)
        self.assertRegex(first["access_token"], r"^tok-\d+$")
        self.assertEqual((first["token_type"], first["expires_in"], first["scope"]),
                         ("Bearer", 120, "products.read"))
        self.assertEqual(r.getheader("Cache-Control"), "no-store")
        self.assertNotEqual(self.token(), first["access_token"])
        log = self.ctl("oauth", "requests")
        self.assertEqual(log["count"], 2)
        self.assertEqual(log["requests"][0]["body"],
                         "grant_type=client_credentials&scope=products.read")
        self.assertEqual(log["requests"][0]["headers"]["authorization"], BASIC)
        self.assertEqual(self.ctl("oauth", "state")["token_requests"], 2)

    def test_oauth_errors_delay_and_failures(self):
        s, _, b = self.token_request(auth="Basic " + base64.b64encode(b"farmlokal:x").decode())
        self.assertEqual((s, json.loads(b)), (401, {"error": "invalid_client"}))
        s, _, b = self.token_request(auth="")
        self.assertEqual(s, 401)
        s, _, b = self.token_request("grant_type=password")
        self.assertEqual((s, json.loads(b)), (400, {"error": "unsupported_grant_type"}))
        self.ctl("oauth", "config", {"client_id": "other", "client_secret": "pw:1",
                                     "fail_next": 2, "delay": 0.2})
        auth = "Basic " + base64.b64encode(b"other:pw:1").decode()
        t0 = time.monotonic()
        self.assertEqual(self.token_request(auth=auth)[0], 500)
        self.assertEqual(self.token_request(auth=auth)[0], 500)
        self.assertEqual(self.token_request(auth=auth)[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        self.assertEqual([e["status"] for e in self.ctl("oauth", "requests")["requests"]],
                         [401, 401, 400, 500, 500, 200])

    # API A ---------------------------------------------------------------------------
    def test_api_a_default_auth_and_revoke(self):
        s, r, _ = request(self.urls["api_a"], "GET", "/items/abc")
        self.assertEqual(s, 401)
        self.assertIn("Bearer", r.getheader("WWW-Authenticate"))
        tok = self.token()
        s, r, b = self.item("abc", tok)
        self.assertEqual((s, json.loads(b)), (200, {"id": "abc", "name": "External item abc",
                                                    "price": "12.50", "source": "api-a"}))
        self.assertEqual(self.ctl("oauth", "revoke")["revoked"], 1)
        self.assertEqual(self.item("abc", tok)[0], 401)
        self.ctl("oauth", "config", {"expires_in": 0})          # born expired
        self.assertEqual(self.item("abc", self.token())[0], 401)
        self.assertEqual(self.item("abc", "tok-999999")[0], 401)

    def test_api_a_script_steps(self):
        tok = self.token()
        steps = [{"status": 500}, {"status": 502}, {"status": 503, "retry_after": 2},
                 {"status": 504}, {"status": 408}, {"status": 429, "retry_after": 1.5},
                 {"status": 404}, {"status": 400}, {"status": 401},
                 {"body": "not json", "content_type": "text/plain"},
                 {"oversized": 1_200_000}, {"oversized": 300_000, "chunked": True},
                 {"delay": 0.1}, {"hang": 0.3}, {"close": True}, {"close": "reset"}]
        self.assertEqual(self.ctl("api_a", "script", {"id": "x", "steps": steps})["steps"],
                         len(steps))
        for want in (500, 502, 503, 504, 408, 429, 404, 400, 401):
            s, r, b = self.item("x", tok)
            self.assertEqual(s, want)
            self.assertEqual(json.loads(b)["status"], want)
            if want in (503, 429):
                self.assertEqual(r.getheader("Retry-After"), "2" if want == 503 else "1.5")
        s, r, b = self.item("x", tok)
        self.assertEqual((s, r.getheader("Content-Type"), b), (200, "text/plain", b"not json"))
        s, r, b = self.item("x", tok)
        self.assertEqual((s, len(b), json.loads(b)["id"]), (200, 1_200_000, "x"))
        s, r, b = self.item("x", tok)
        self.assertEqual((r.getheader("Transfer-Encoding"), len(b)), ("chunked", 300_000))
        for pause in (0.1, 0.3):
            t0 = time.monotonic()
            s, _, b = self.item("x", tok)
            self.assertEqual((s, json.loads(b)["id"]), (200, "x"))
            self.assertGreaterEqual(time.monotonic() - t0, pause)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.item("x", tok)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.item("x", tok)
        self.assertEqual(self.item("x", tok)[0], 200)             # script used up
        log = [e for e in self.ctl("api_a", "requests")["requests"] if e["item_id"] == "x"]
        self.assertEqual(len(log), len(steps) + 1)
        self.assertEqual([e["step"] for e in log[:-1]], steps)
        self.assertEqual([e["status"] for e in log[-3:]], ["closed", "reset", 200])
        self.assertEqual(log[-1]["step"], {})
        times = [e["mono"] for e in log]
        self.assertEqual(times, sorted(times))
        self.assertGreaterEqual(log[14]["mono"] - log[13]["mono"], 0.3)   # after the hang

    def test_api_a_default_step_and_hang_timeout(self):
        tok = self.token()
        self.ctl("api_a", "config", {"default_step": {"status": 503, "retry_after": 1}})
        self.assertEqual([self.item(i, tok)[0] for i in "abc"], [503] * 3)
        self.ctl("api_a", "config", {"default_step": None})
        self.ctl("api_a", "script", {"id": "slow", "steps": [{"hang": 2}]})
        t0 = time.monotonic()
        with self.assertRaises(TimeoutError):
            self.item("slow", tok, timeout=0.3)                  # the client gives up
        self.assertLess(time.monotonic() - t0, 1)
        self.assertEqual(self.item("fast", tok)[0], 200)         # server still serves

    def test_control_rejects_bad_input(self):
        for name, verb, data in [("oauth", "config", {"nope": 1}),
                                 ("oauth", "config", {"expires_in": "1"}),
                                 ("api_a", "script", {"id": "x", "steps": [{"stat": 1}]}),
                                 ("api_a", "config", {"default_step": {"status": 9}}),
                                 ("api_b", "send", {"target": "http://example.com/"})]:
            s, _, b = request(self.urls[name], "POST", "/_control/" + verb, data)
            self.assertEqual(s, 400, (name, verb, b))
        self.assertEqual(request(self.urls["oauth"], "POST", "/_control/nope", {})[0], 404)

    # API B ---------------------------------------------------------------------------
    def register(self, url, tok):
        s, _, b = request(self.urls["api_b"], "POST", "/webhooks",
                          {"url": url, "events": ["product.updated"]},
                          {"Authorization": "Bearer " + tok})
        return s, json.loads(b)

    def test_api_b_registration_is_idempotent(self):
        s, _, _ = request(self.urls["api_b"], "POST", "/webhooks",
                          {"url": "http://x/", "events": []})
        self.assertEqual(s, 401)
        tok = self.token()
        s, sub = self.register("http://127.0.0.1:1/api/webhooks/update", tok)
        self.assertEqual(s, 201)
        self.assertRegex(sub["id"], r"^sub_\d+$")
        self.assertEqual(len(base64.b64decode(sub["secret"].removeprefix("whsec_"))), 32)
        self.assertEqual(sub["events"], ["product.updated"])
        self.assertEqual(self.register("http://127.0.0.1:1/api/webhooks/update", tok),
                         (200, sub))
        s, other = self.register("http://127.0.0.1:2/webhooks/update", tok)
        self.assertEqual(s, 201)
        self.assertNotEqual(other["secret"], sub["secret"])
        s, _, b = request(self.urls["api_b"], "GET", "/webhooks",
                          headers={"Authorization": "Bearer " + tok})
        self.assertEqual(json.loads(b)["data"], [sub, other])
        s, _, b = request(self.urls["api_b"], "POST", "/webhooks", "{", {
            "Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        self.assertEqual(s, 400)

    def test_sign_helper(self):
        secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
        other = "whsec_" + base64.b64encode(b"j" * 32).decode()
        out = self.ctl("api_b", "sign", {"secret": [secret, other], "id": "evt_1",
                                         "timestamp": 1700000000, "body": '{"a":1}'})
        h = out["headers"]
        self.assertEqual((h["webhook-id"], h["webhook-timestamp"]), ("evt_1", "1700000000"))
        want = [base64.b64encode(hmac.new(k * 32, b'evt_1.1700000000.{"a":1}',
                                          hashlib.sha256).digest()).decode()
                for k in (b"k", b"j")]
        self.assertEqual(h["webhook-signature"], "v1,%s v1,%s" % tuple(want))

    def test_sender_signs_retries_duplicates_and_reorders(self):
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        rx = Receiver(secret, fail_first={"evt_1", "evt_4"})
        self.addCleanup(rx.close)
        events = [{"event_id": "evt_%d" % i, "type": "product.updated",
                   "occurred_at": "2026-11-24T14:42:%02d.000000Z" % i,
                   "data": {"sku": "VEG-%09d" % i, "price": "%d.50" % i}} for i in range(8)]
        out = self.ctl("api_b", "send", {"target": rx.url, "secret": secret, "events": events,
                                         "concurrency": 4, "duplicates": 2, "shuffle": True,
                                         "seed": 7, "retry_on": [503, 502, 500, 429],
                                         "max_attempts": 5, "backoff": 0.05})
        self.assertEqual(rx.bad, [])
        self.assertEqual((out["delivered"], out["attempts"], out["failed"]), (16, 18, []))
        self.assertEqual(out["statuses"], {"200": 16, "503": 2})
        self.assertEqual(rx.applied, {e["event_id"] for e in events})
        self.assertGreaterEqual(rx.max_inflight, 2)
        order = [r["event_id"] for r in out["results"]]
        self.assertNotEqual(order, sorted(order))                     # shuffled
        self.assertEqual(sorted(r["response"]["status"] for r in out["results"]),
                         ["ignored"] * 8 + ["success"] * 8)
        retried = [r for r in out["results"] if r["attempts"][0] == 503]
        self.assertEqual(sorted(r["event_id"] for r in retried), ["evt_1", "evt_4"])
        self.assertTrue(all(r["attempts"] == [503, 200] for r in retried))
        # A wrong secret gets 401, which is not retried and is reported as failed; a dead
        # target is a connection error, retried up to max_attempts.
        wrong = "whsec_" + base64.b64encode(b"w" * 32).decode()
        out = self.ctl("api_b", "send", {"target": rx.url, "secret": wrong,
                                         "events": events[:2], "backoff": 0.01})
        self.assertEqual((out["delivered"], out["statuses"], out["failed"]),
                         (0, {"401": 2}, ["evt_0", "evt_1"]))
        out = self.ctl("api_b", "send", {"target": "http://127.0.0.1:1/x", "secret": secret,
                                         "events": events[:1], "max_attempts": 3,
                                         "backoff": 0.01})
        self.assertEqual((out["attempts"], out["statuses"], out["failed"]),
                         (3, {"error": 3}, ["evt_0"]))
        self.assertEqual(self.ctl("api_b", "requests")["count"], 0)   # control not logged


if __name__ == "__main__":
    unittest.main(verbosity=2)
