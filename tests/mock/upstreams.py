#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mock upstreams for FarmLokal's integration tests: OAuth provider, API A, API B.

    python3 tests/mock/upstreams.py --port-file PATH [--verbose]

Three ThreadingHTTPServers, one per mock, each on its own port on 127.0.0.1 (bound
to port 0). Once all three listen, PATH is written atomically (temp file + rename):

    {"oauth": "http://127.0.0.1:P1", "api_a": "http://127.0.0.1:P2", "api_b": "http://127.0.0.1:P3"}

so the app is configured with FL_OAUTH_TOKEN_URL=<oauth>/token, FL_API_A_URL=<api_a>/items,
FL_API_B_URL=<api_b>. SIGTERM (or SIGINT) stops the servers and exits with status 0.
All three share one process, so API A and API B accept exactly the tokens the OAuth
mock issued and still considers valid. Only the standard library is used.

Mock endpoints (what the app talks to)
  oauth  POST /token        form grant_type=client_credentials [&scope=...], HTTP Basic
                            client auth -> 200 {"access_token":"tok-<n>","token_type":"Bearer",
                            "expires_in":E[,"scope":...]}; 401 {"error":"invalid_client"};
                            400 {"error":"unsupported_grant_type"} / {"error":"invalid_request"}
  api_a  GET /items/{id}    Bearer token required (else 401) -> scripted step or the default
                            200 {"id":id,"name":"External item <id>","price":"12.50","source":"api-a"}
  api_b  POST /webhooks     Bearer; {"url":..., "events":[...]} -> 201 new subscription
                            {"id":"sub_<n>","secret":"whsec_<b64 32 bytes>","url","events"},
                            or 200 with the existing one when the url is already subscribed
         GET /webhooks      Bearer -> 200 {"data":[subscriptions]}

Control API (JSON in and out, on every server, never logged, no auth)
  GET  /_control/requests   {"mock","count","requests":[{"seq","time","mono","method","path",
                            "headers"{lower-case name: value},"body","client_port","status",
                            ...}]} every non-control request in arrival order; "time" is
                            epoch seconds, "mono" time.monotonic() at arrival; "status" is
                            filled once answered ("closed"/"reset" for close steps). API A
                            entries add "item_id" and "step"; OAuth entries add "token".
  POST /_control/reset      clear this mock's log and restore its default config; API A
                            also drops scripts, API B subscriptions. Issued tokens stay valid
                            (use revoke) and token numbers are never reused.
  GET  /_control/config     the current config
  POST /_control/config     merge {key: value} into the config (unknown keys -> 400)
  GET  /_control/state      a snapshot of the mock's state (tokens, scripts, subscriptions)
  oauth config: client_id "farmlokal", client_secret "s3cret", expires_in 3600,
                delay 0 (seconds before answering), fail_next 0 (next N requests -> 500)
  oauth POST /_control/revoke   invalidate every token issued so far -> {"revoked": n}
  api_a config: require_auth true, default_step null (a step used for every request of
                an id without scripted steps left, e.g. {"status":503} or {"delay":0.2})
  api_a POST /_control/script   {"id":"x","steps":[step,...]} replaces x's script; one step
                is consumed per authorised request, then the default. A step is an object:
                  {"status":S}           answer S (404, 400, 401, 408, 429, 5xx...) with a
                                         JSON error body; 401 regardless of the token
                  "retry_after": N       add Retry-After: N (a number, or a string verbatim)
                  {"delay":s} {"hang":s} sleep s seconds first, then answer (the default 200
                                         unless other keys say otherwise)
                  {"body":"text","content_type":"text/plain"}  this raw body
                  {"oversized":N}        a valid JSON object body of exactly N bytes
                  {"chunked":true}       send the body chunked, without Content-Length
                  {"headers":{...}}      extra response headers
                  {"close":true}         close the connection without answering (FIN);
                                         {"close":"reset"} aborts it with a TCP RST
  api_b config: require_auth true, fail_next 0
  api_b POST /_control/sign     {"secret":"whsec_..."|[...],"id":...,"timestamp":T (default
                now),"body":"..."} -> {"headers":{webhook-id, webhook-timestamp,
                webhook-signature, content-type}} (several secrets: space-separated v1 sigs)
  api_b POST /_control/send     deliver signed events to a loopback http:// target:
                {"target":url,"secret":"whsec_..."|[...],"events":[{"event_id":...},...],
                 "concurrency":1,"duplicates":1 (copies of each event, 1 = no duplicate),
                 "shuffle":false,"seed":null,"retry_on":[500,502,503,504,429],
                 "max_attempts":10,"backoff":0.1 (constant seconds between attempts),
                 "timeout":10,"timestamp_offset":0 (added to every webhook-timestamp)}
                Each event body is the event's compact JSON; a delivery is retried (fresh
                timestamp and signature) on retry_on statuses and connection errors. Answers
                when all are done: {"delivered": deliveries ending 2xx, "attempts": n,
                "statuses":{"200":n,"503":n,"error":n}, "failed":[event ids never 2xx],
                "results":[{"event_id","copy","status","attempts":[...],"response"}],
                "elapsed": s}
"""

import argparse
import base64
import collections
import copy
import hashlib
import hmac
import http.client
import json
import os
import queue
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_LOGGED_BODY = 1 << 20     # request bodies are logged up to this many bytes
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class BadRequest(Exception):
    """A control request the mock cannot accept: answered 400 with the message."""


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------------------
# Standard Webhooks signing (https://www.standardwebhooks.com/)
# --------------------------------------------------------------------------------------

def secret_key(secret):
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional)."""
    if not isinstance(secret, str):
        raise BadRequest("secret must be a string")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise BadRequest("secret is not whsec_ + base64") from None


def sign_headers(secrets_, msg_id, timestamp, body):
    """Headers for one signed delivery; body is bytes, secrets_ a secret or a list."""
    if isinstance(secrets_, str):
        secrets_ = [secrets_]
    signed = b"%s.%s." % (str(msg_id).encode(), str(timestamp).encode()) + body
    sigs = ["v1," + base64.b64encode(hmac.new(secret_key(s), signed, hashlib.sha256)
                                     .digest()).decode() for s in secrets_]
    return {"webhook-id": str(msg_id), "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(sigs), "content-type": "application/json"}


# --------------------------------------------------------------------------------------
# State shared by the mocks. Each mock guards its own state with its own lock.
# --------------------------------------------------------------------------------------

class Mock:
    """Request log + config; subclasses add endpoints (handle) and control verbs."""
    name = "?"
    DEFAULTS = {}

    def __init__(self):
        self.lock = threading.RLock()
        self.seq = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.log = []
            self.config = copy.deepcopy(self.DEFAULTS)

    def record(self, h, body):
        """Append one request to the log at arrival; returns the (mutable) entry."""
        headers = {}
        for k, v in h.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        entry = {"time": time.time(), "mono": time.monotonic(), "method": h.command,
                 "path": h.path, "headers": headers,
                 "body": body[:MAX_LOGGED_BODY].decode("utf-8", "replace"),
                 "client_port": h.client_address[1], "status": None}
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)
        return entry

    def set_config(self, changes):
        if not isinstance(changes, dict):
            raise BadRequest("config must be an object")
        with self.lock:
            for key, value in changes.items():
                if key not in self.DEFAULTS:
                    raise BadRequest("unknown config key %r for %s" % (key, self.name))
                default = self.DEFAULTS[key]
                ok = (isinstance(value, bool) if isinstance(default, bool)
                      else is_number(value) and value >= 0 if is_number(default)
                      else isinstance(value, str) if isinstance(default, str)
                      else value is None or isinstance(value, dict))
                if not ok:
                    raise BadRequest("bad value for config key %r" % key)
            self.config.update(changes)
            return dict(self.config)

    def take_failure(self):
        """Consume one of config fail_next; True if this request must answer 500."""
        with self.lock:
            if self.config.get("fail_next", 0) > 0:
                self.config["fail_next"] -= 1
                return True
        return False

    def control(self, h, verb, data):
        """Mock-specific control verbs; returns a JSON-able answer or None (404)."""
        return None

    def state(self):
        return {}


class OAuth(Mock):
    name = "oauth"
    DEFAULTS = {"client_id": "farmlokal", "client_secret": "s3cret", "expires_in": 3600,
                "delay": 0.0, "fail_next": 0}

    def __init__(self):
        self.issued = 0          # token counter: never reset, so tokens are never reused
        self.tokens = {}         # token -> monotonic expiry time, for valid tokens only
        super().__init__()

    def valid(self, token):
        with self.lock:
            expiry = self.tokens.get(token)
            return expiry is not None and time.monotonic() < expiry

    def client_ok(self, authorization, cfg):
        """HTTP Basic client authentication (RFC 6749 2.3.1: id and secret may be
        form-urlencoded before base64, so both the raw and decoded forms match)."""
        scheme, _, b64 = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, pw = base64.b64decode(b64.strip(), validate=True).decode().partition(":")
        except ValueError:          # binascii.Error and UnicodeDecodeError
            return False
        want = (cfg["client_id"], cfg["client_secret"])
        unq = urllib.parse.unquote_plus
        return bool(sep) and ((user, pw) == want or (unq(user), unq(pw)) == want)

    def handle(self, h, body):
        if h.path_only != "/token":
            return h.send_json(404, {"error": "not_found"})
        if h.command != "POST":
            return h.send_json(405, {"error": "method_not_allowed"}, {"Allow": "POST"})
        with self.lock:
            cfg = dict(self.config)
        time.sleep(cfg["delay"])
        if self.take_failure():
            return h.send_json(500, {"error": "server_error"})
        ctype = h.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return h.send_json(400, {"error": "invalid_request",
                                     "error_description": "body must be form-encoded"})
        if not self.client_ok(h.headers.get("Authorization"), cfg):
            return h.send_json(401, {"error": "invalid_client"},
                               {"WWW-Authenticate": 'Basic realm="mock-oauth"'})
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if any(len(v) > 1 for v in form.values()) or len(form.get("grant_type", [])) != 1:
            return h.send_json(400, {"error": "invalid_request"})
        if form["grant_type"][0] != "client_credentials":
            return h.send_json(400, {"error": "unsupported_grant_type"})
        with self.lock:
            self.issued += 1
            token = "tok-%d" % self.issued
            self.tokens[token] = time.monotonic() + cfg["expires_in"]
        h.entry["token"] = token
        answer = {"access_token": token, "token_type": "Bearer",
                  "expires_in": cfg["expires_in"]}
        if "scope" in form:
            answer["scope"] = form["scope"][0]
        h.send_json(200, answer, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def control(self, h, verb, data):
        if verb == "revoke":
            with self.lock:
                n, self.tokens = len(self.tokens), {}
            return {"revoked": n}
        return None

    def state(self):
        with self.lock:
            return {"issued": self.issued,
                    "valid": [t for t in self.tokens if self.valid(t)],
                    "token_requests": sum(e["path"].startswith("/token") for e in self.log)}


class BearerMock(Mock):
    """A mock whose endpoints require a token issued by the OAuth mock."""

    def __init__(self, oauth):
        self.oauth = oauth
        super().__init__()

    def authorised(self, h):
        if not self.config["require_auth"]:
            return True
        scheme, _, token = h.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.oauth.valid(token.strip())

    @staticmethod
    def unauthorised(h):
        h.send_json(401, {"error": "invalid_token"},
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'})


class ApiA(BearerMock):
    name = "api_a"
    DEFAULTS = {"require_auth": True, "default_step": None}
    STEP_KEYS = {"status", "retry_after", "delay", "hang", "body", "content_type",
                 "oversized", "chunked", "headers", "close"}

    def reset(self):
        with self.lock:
            super().reset()
            self.scripts = {}    # item id -> deque of steps still to be played

    @classmethod
    def check_step(cls, step):
        if not isinstance(step, dict) or not set(step) <= cls.STEP_KEYS:
            raise BadRequest("a step is an object with keys from %s" % sorted(cls.STEP_KEYS))
        if "status" in step and not (isinstance(step["status"], int)
                                     and 100 <= step["status"] <= 599):
            raise BadRequest("status must be an integer 100-599")
        for k in ("delay", "hang", "oversized"):
            if k in step and not (is_number(step[k]) and step[k] >= 0):
                raise BadRequest("%s must be a number >= 0" % k)

    def set_config(self, changes):
        if isinstance(changes, dict) and changes.get("default_step") is not None:
            self.check_step(changes["default_step"])
        return super().set_config(changes)

    def next_step(self, item_id):
        with self.lock:
            steps = self.scripts.get(item_id)
            if steps:
                return steps.popleft()
            return dict(self.config["default_step"] or {})

    def handle(self, h, body):
        m = re.fullmatch(r"/items/([^/]+)", h.path_only)
        if not m:
            return h.send_json(404, {"error": "not_found"})
        if h.command != "GET":
            return h.send_json(405, {"error": "method_not_allowed"}, {"Allow": "GET"})
        item_id = urllib.parse.unquote(m.group(1))
        h.entry["item_id"] = item_id
        if not self.authorised(h):          # checked before a scripted step is consumed
            h.entry["step"] = "unauthorised"
            return self.unauthorised(h)
        step = h.entry["step"] = self.next_step(item_id)
        time.sleep(step.get("delay", 0) + step.get("hang", 0))
        if step.get("close"):
            return h.drop_connection(reset=step["close"] == "reset")
        status = step.get("status", 200)
        headers = dict(step.get("headers", {}))
        if "retry_after" in step:
            ra = step["retry_after"]
            headers["Retry-After"] = str(int(ra)) if is_number(ra) and ra == int(ra) else str(ra)
        if status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
        ctype = step.get("content_type", "application/json")
        if "oversized" in step:
            head = b'{"id":%s,"pad":"' % json.dumps(item_id).encode()
            payload = head + b"x" * max(0, int(step["oversized"]) - len(head) - 2) + b'"}'
        elif "body" in step:
            payload = str(step["body"]).encode()
        elif status == 200:
            payload = json.dumps({"id": item_id, "name": "External item %s" % item_id,
                                  "price": "12.50", "source": "api-a"}).encode()
        else:
            payload = json.dumps({"error": http.client.responses.get(status, "error"),
                                  "status": status}).encode()
        h.send_raw(status, payload, ctype, headers, chunked=bool(step.get("chunked")))

    def control(self, h, verb, data):
        if verb != "script":
            return None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
                or not isinstance(data.get("steps"), list):
            raise BadRequest('expected {"id": "...", "steps": [...]}')
        for step in data["steps"]:
            self.check_step(step)
        with self.lock:
            self.scripts[data["id"]] = collections.deque(data["steps"])
        return {"id": data["id"], "steps": len(data["steps"])}

    def state(self):
        with self.lock:
            return {"scripts": {k: list(v) for k, v in self.scripts.items()}}


class ApiB(BearerMock):
    name = "api_b"
    DEFAULTS = {"require_auth": True, "fail_next": 0}

    def reset(self):
        with self.lock:
            super().reset()
            self.subs = []       # subscriptions in creation order
            self.sub_seq = 0

    def handle(self, h, body):
        if h.path_only != "/webhooks":
            return h.send_json(404, {"error": "not_found"})
        if h.command not in ("GET", "POST"):
            return h.send_json(405, {"error": "method_not_allowed"}, {"Allow": "GET, POST"})
        if self.take_failure():
            return h.send_json(500, {"error": "server_error"})
        if not self.authorised(h):
            return self.unauthorised(h)
        if h.command == "GET":
            with self.lock:
                return h.send_json(200, {"data": list(self.subs)})
        try:
            req = json.loads(body)
        except ValueError:
            return h.send_json(400, {"error": "invalid_json"})
        if not (isinstance(req, dict) and isinstance(req.get("url"), str) and req["url"]
                and isinstance(req.get("events"), list)
                and all(isinstance(e, str) for e in req["events"])):
            return h.send_json(400, {"error": "invalid_request",
                                     "detail": 'expected {"url": "...", "events": ["..."]}'})
        with self.lock:
            for sub in self.subs:
                if sub["url"] == req["url"]:          # idempotent: same url, same answer
                    return h.send_json(200, sub)
            self.sub_seq += 1
            sub = {"id": "sub_%d" % self.sub_seq,
                   "secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                   "url": req["url"], "events": req["events"]}
            self.subs.append(sub)
        h.send_json(201, sub, {"Location": "/webhooks/" + sub["id"]})

    def control(self, h, verb, data):
        if not isinstance(data, dict):
            raise BadRequest("expected a JSON object")
        if verb == "sign":
            body = data.get("body", "")
            if not isinstance(body, str) or "id" not in data:
                raise BadRequest('expected {"secret", "id", "timestamp"?, "body": "..."}')
            ts = data.get("timestamp", int(time.time()))
            return {"headers": sign_headers(data.get("secret"), data["id"], ts,
                                            body.encode())}
        if verb == "send":
            try:
                sender = Sender(data)
            except (TypeError, ValueError) as e:
                raise BadRequest("bad send parameters: %s" % e) from None
            return sender.run()
        return None

    def state(self):
        with self.lock:
            return {"subscriptions": list(self.subs)}


class Sender:
    """One POST /_control/send: delivers signed events with N threads, then sums up."""

    def __init__(self, spec):
        target = urllib.parse.urlsplit(str(spec.get("target", "")))
        if target.scheme != "http" or target.hostname not in LOOPBACK:
            raise BadRequest("target must be an http:// URL on loopback")
        self.host, self.port = target.hostname, target.port or 80
        self.path = (target.path or "/") + ("?" + target.query if target.query else "")
        self.secret = spec.get("secret")
        for s in [self.secret] if isinstance(self.secret, str) else (self.secret or [None]):
            secret_key(s)                                   # validate early
        events = spec.get("events")
        if not isinstance(events, list) or not all(
                isinstance(e, dict) and isinstance(e.get("event_id"), str) for e in events):
            raise BadRequest("events must be a list of objects with a string event_id")
        copies = max(1, int(spec.get("duplicates", 1)))
        self.work = [(e, c) for e in events for c in range(copies)]
        if spec.get("shuffle"):
            random.Random(spec.get("seed")).shuffle(self.work)
        self.concurrency = max(1, int(spec.get("concurrency", 1)))
        self.retry_on = set(spec.get("retry_on", [500, 502, 503, 504, 429]))
        self.max_attempts = max(1, int(spec.get("max_attempts", 10)))
        self.backoff = float(spec.get("backoff", 0.1))
        self.timeout = float(spec.get("timeout", 10))
        self.ts_offset = int(spec.get("timestamp_offset", 0))

    def post(self, headers, body):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def deliver(self, event, copy_no):
        body = json.dumps(event, separators=(",", ":")).encode()
        attempts, status, answer = [], None, b""
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(self.backoff)
            ts = int(time.time()) + self.ts_offset       # fresh timestamp, fresh signature
            try:
                status, answer = self.post(sign_headers(self.secret, event["event_id"], ts,
                                                        body), body)
            except (OSError, http.client.HTTPException) as e:
                status, answer = "error", repr(e).encode()
            attempts.append(status)
            if status != "error" and status not in self.retry_on:
                break
        try:
            response = json.loads(answer)
        except ValueError:
            response = answer[:1000].decode("utf-8", "replace")
        return {"event_id": event["event_id"], "copy": copy_no, "status": status,
                "attempts": attempts, "response": response}

    def run(self):
        start = time.monotonic()
        todo = queue.Queue()
        for i, item in enumerate(self.work):
            todo.put((i, item))
        results = [None] * len(self.work)

        def worker():
            while True:
                try:
                    i, (event, copy_no) = todo.get_nowait()
                except queue.Empty:
                    return
                results[i] = self.deliver(event, copy_no)

        threads = [threading.Thread(target=worker, daemon=True)
                   for _ in range(min(self.concurrency, max(1, len(self.work))))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [isinstance(r["status"], int) and 200 <= r["status"] < 300 for r in results]
        statuses = collections.Counter(str(s) for r in results for s in r["attempts"])
        return {"delivered": sum(ok),
                "attempts": sum(len(r["attempts"]) for r in results),
                "statuses": dict(statuses),
                "failed": sorted({r["event_id"] for r, good in zip(results, ok) if not good}),
                "results": results,
                "elapsed": round(time.monotonic() - start, 3)}


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"        # keep-alive: every answer has a length or chunks
    # Headers and body go out in two writes: with Nagle's algorithm the body waited for
    # the client's delayed ACK of the headers, adding 40 ms to every kept-alive call.
    disable_nagle_algorithm = True
    server_version = "farmlokal-mock/1"
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("[%s] %s\n" % (self.server.mock.name, fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        """The whole request body (Content-Length or chunked), so keep-alive stays in sync."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass                         # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self):
        mock = self.server.mock
        self.entry = None
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            return self.send_json(400, {"error": "bad_body"})
        self.path_only = urllib.parse.urlsplit(self.path).path
        try:
            if self.path_only.startswith("/_control/"):
                return self.control(mock, self.path_only[len("/_control/"):], body)
            self.entry = mock.record(self, body)
            mock.handle(self, body)
        except BadRequest as e:
            self.send_json(400, {"error": "bad_request", "detail": str(e)})
        except Exception as e:                               # a bug in the mock
            traceback.print_exc()
            self.send_json(500, {"error": "mock_error", "detail": repr(e)})

    def control(self, mock, verb, body):
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            raise BadRequest("control bodies are JSON") from None
        get, post = self.command == "GET", self.command == "POST"
        if verb == "requests" and get:
            with mock.lock:
                log = copy.deepcopy(mock.log)
            return self.send_json(200, {"mock": mock.name, "count": len(log), "requests": log})
        if verb == "reset" and post:
            mock.reset()
            return self.send_json(200, {"ok": True})
        if verb == "config" and (get or post):
            with mock.lock:
                cfg = mock.set_config(data) if post else dict(mock.config)
            return self.send_json(200, {"config": cfg})
        if verb == "state" and get:
            return self.send_json(200, mock.state())
        answer = mock.control(self, verb, data) if post else None
        if answer is None:
            return self.send_json(404, {"error": "unknown control endpoint",
                                        "detail": "%s /_control/%s" % (self.command, verb)})
        self.send_json(200, answer)

    def send_json(self, status, obj, headers=None):
        self.send_raw(status, json.dumps(obj).encode(), "application/json", headers)

    def send_raw(self, status, body, ctype, headers=None, chunked=False):
        if self.entry is not None:
            self.entry["status"] = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if not chunked:
                self.wfile.write(body)
                return
            for i in range(0, len(body), 65536):
                piece = body[i:i + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):     # the client gave up (timeout)
            self.close_connection = True

    def drop_connection(self, reset=False):
        """Close without answering: FIN, or RST when reset (SO_LINGER 0, then close)."""
        self.entry["status"] = "reset" if reset else "closed"
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()    # the fd really closes when rfile/wfile do
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    # Spelled out (these are ThreadingHTTPServer's defaults in effect): a handler still
    # sleeping in a hang step neither blocks server_close() nor keeps the process alive.
    daemon_threads = True
    block_on_close = False


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True, help="where to write the mock URLs (JSON)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()
    Handler.verbose = args.verbose

    # Block the stop signals before any thread starts (threads inherit the mask); the
    # main thread then waits for one with sigwait and shuts everything down in order.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    oauth = OAuth()
    mocks = {"oauth": oauth, "api_a": ApiA(oauth), "api_b": ApiB(oauth)}
    servers = {}
    for name, mock in mocks.items():
        srv = Server(("127.0.0.1", 0), Handler)
        srv.mock = mock
        servers[name] = srv
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                         name=name, daemon=True).start()
    write_atomically(args.port_file, json.dumps(
        {name: "http://127.0.0.1:%d" % srv.server_address[1] for name, srv in servers.items()}))

    signal.sigwait(stop_signals)
    for srv in servers.values():
        srv.shutdown()           # stops accepting; handlers still sleeping are daemons
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
