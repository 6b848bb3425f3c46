#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile input through nginx (issue #15): bytes that are not strict UTF-8, lax JSON,
names of nothing visible, foreign charsets, nginx's own error pages, sku and category
compared exactly, and search words beyond ASCII (folded, and only letters and digits).

Each check failed before its fix: MariaDB refused overlong or too-high UTF-8 (error 1366,
a 503 a webhook sender retries forever) and stored surrogates; json-c took repeated keys,
single quotes and -0 (as 0); any charset passed; nginx answered HTML; utf8mb4_unicode_ci
made "veg-1" the sku "VEG-1" and a zero-width space before a category invisible; search
folded ASCII only and took any non-ASCII byte for a letter.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ADMIN_TOKEN = "hostile-admin-0123456789abcdef"
WEBHOOK_KEY = b"hostile-webhook-key-0123456789ab"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
WEBHOOK_PATH = "/api/webhooks/update"

# Bytes that are not UTF-8 by RFC 3629, each inside "ab...cd".
BAD_UTF8 = {
    "overlong": b"\xc0\x80",
    "surrogate": b"\xed\xa0\x80",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
}


def raw_http(port, data, timeout=10.0):
    """Sends data as is and returns (status, headers dict, body) of the answer. nginx may
    answer and close before it has read all of an oversized request, and the reset that
    closing unread data causes can discard its answer on our side: then it is sent again."""
    for attempt in range(3):
        try:
            out = _exchange(port, data, timeout)
            break
        except ConnectionResetError:
            if attempt == 2:
                raise
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _exchange(port, data, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


class HostileInputTest(harness.StackTestCase):
    app_env = {"FL_ADMIN_TOKEN": ADMIN_TOKEN, "FL_WEBHOOK_SECRET": WEBHOOK_SECRET}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.serial = 0

    # -- helpers ---------------------------------------------------------------------

    def admin(self, method, path, body, content_type="application/json"):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        return self.request(method, "/api" + path, body=body,
                            headers={"Authorization": "Bearer " + ADMIN_TOKEN,
                                     "Content-Type": content_type})

    def create(self, **fields):
        type(self).serial += 1
        p = {"sku": "HOSTILE-%d" % self.serial, "name": "Kale %d" % self.serial,
             "category": "greens", "price": "2.50", "unit": "bunch", "producer": "Hill Farm"}
        p.update(fields)
        r = self.admin("POST", "/products", p)
        self.assertEqual(r.status, 201, r)
        return r.json()["data"]

    def product(self, pid):
        r = self.get("/api/products/%d" % pid)
        self.assertEqual(r.status, 200, r)
        return r.json()["data"]

    def deliver(self, event_id, body, content_type="application/json"):
        """A delivery signed as Standard Webhooks sign it."""
        ts = str(int(time.time()))
        mac = hmac.new(WEBHOOK_KEY, b"%s.%s.%s" % (event_id.encode(), ts.encode(), body),
                       hashlib.sha256).digest()
        return self.request("POST", WEBHOOK_PATH, body=body, headers={
            "Content-Type": content_type, "webhook-id": event_id, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()})

    def event_body(self, event_id, sku, data_json):
        return (b'{"event_id":"%s","type":"product.updated","data":{"sku":"%s",%s}}'
                % (event_id.encode(), sku.encode(), data_json))

    def recorded(self, event_id):
        return self.stack.sql("SELECT outcome FROM webhook_events WHERE event_id = '%s'"
                              % event_id, database="farmlokal")

    def assertBadBody(self, r, *words):
        """A 400 problem whose detail holds each of words (the field it names)."""
        problem = self.assertProblem(r, 400)
        for w in words:
            self.assertIn(w, problem["detail"], r)
        return problem

    # -- findings 3 and 4: strict UTF-8 -------------------------------------------------

    def test_webhook_with_invalid_utf8_is_400_and_nothing_is_recorded(self):
        p = self.create()
        for what, raw in BAD_UTF8.items():
            with self.subTest(what):
                eid = "evt_utf8_%d" % len(raw)
                r = self.deliver(eid, self.event_body(eid, p["sku"], b'"name":"ab' + raw + b'cd"'))
                self.assertBadBody(r, "invalid UTF-8", "'data'")
                self.assertEqual(self.recorded(eid), [])
        # Nothing was recorded, so the sender's corrected event still applies.
        r = self.deliver(eid, self.event_body(eid, p["sku"], b'"name":"abcd"'))
        self.assertEqual(r.json(), {"status": "success"}, r)
        self.assertEqual(self.product(p["id"])["name"], "abcd")

    def test_webhook_with_a_lone_surrogate_escape_is_400(self):
        p = self.create()
        eid = "evt_lone_surrogate"
        r = self.deliver(eid, self.event_body(eid, p["sku"], b'"name":"ab\\ud800cd"'))
        self.assertBadBody(r, "surrogate")
        self.assertEqual(self.recorded(eid), [])

    def test_admin_writes_with_invalid_utf8_are_400(self):
        p = self.create()
        for what, raw in BAD_UTF8.items():
            body = b'{"name":"ab' + raw + b'cd"}'
            with self.subTest(what):
                self.assertBadBody(self.admin("PATCH", "/products/%d" % p["id"], body),
                                   "invalid UTF-8", "'name'")
                post = (b'{"sku":"UTF-%d","name":"ab' % len(raw) + raw +
                        b'cd","category":"greens","price":"1.00","unit":"kg","producer":"x"}')
                self.assertBadBody(self.admin("POST", "/products", post), "invalid UTF-8", "'name'")
        self.assertEqual(self.product(p["id"])["name"], p["name"])
        self.assertEqual(self.stack.sql("SELECT COUNT(*) FROM products WHERE sku LIKE 'UTF-%'",
                                        database="farmlokal"), [["0"]])

    # -- finding 8: JSON as strict as the query string ----------------------------------

    def test_repeated_fields_are_400_naming_them(self):
        p = self.create()
        r = self.admin("PATCH", "/products/%d" % p["id"], b'{"price":"1.00","price":"9.00"}')
        self.assertBadBody(r, "'price' is repeated")
        eid = "evt_repeated"
        r = self.deliver(eid, self.event_body(eid, p["sku"], b'"stock":1,"stock":2'))
        self.assertBadBody(r, "'stock' is repeated")
        self.assertEqual(self.recorded(eid), [])
        self.assertEqual(self.product(p["id"])["price"], "2.50")

    def test_single_quotes_nan_and_raw_control_characters_are_400(self):
        p = self.create()
        for body in (b"{'price':\"1.00\"}", b'{"stock":NaN}', b'{"name":"a\tb"}',
                     b'{"price":"1.00",}'):
            with self.subTest(body=body):
                self.assertBadBody(self.admin("PATCH", "/products/%d" % p["id"], body),
                                   "not valid JSON")

    def test_negative_zero_is_400_naming_the_field(self):
        p = self.create()
        for body, field in ((b'{"price":-0}', "price"), (b'{"stock":-0}', "stock"),
                            (b'{"price":-0.00}', "price")):
            with self.subTest(body=body):
                self.assertBadBody(self.admin("PATCH", "/products/%d" % p["id"], body), field)
        eid = "evt_negative_zero"
        self.assertBadBody(self.deliver(eid, self.event_body(eid, p["sku"], b'"stock":-0')),
                           "data.stock")

    def test_names_of_nothing_visible_are_400(self):
        p = self.create()
        for name in ("   ", "\u200b", "\u200b\u200d\ufeff", "\u3000", "\u2800"):
            with self.subTest(name=name.encode("unicode_escape")):
                r = self.admin("PATCH", "/products/%d" % p["id"], {"name": name})
                self.assertBadBody(r, "name must be visible")
        r = self.admin("POST", "/products", {"sku": "BLANK-CAT", "name": "Chard",
                                             "category": "\u200b", "price": "1.00",
                                             "unit": "kg", "producer": "x"})
        self.assertBadBody(r, "category must be visible")

    def test_charset_other_than_utf8_is_415(self):
        p = self.create()
        for ct in ("application/json; charset=latin1", "application/json; charset=utf-16"):
            with self.subTest(ct):
                r = self.admin("PATCH", "/products/%d" % p["id"], {"stock": 3}, content_type=ct)
                self.assertProblem(r, 415)
        r = self.admin("PATCH", "/products/%d" % p["id"], {"stock": 3},
                       content_type="application/json; charset=UTF-8")
        self.assertEqual(r.status, 200, r)
        eid = "evt_latin1"
        r = self.deliver(eid, self.event_body(eid, p["sku"], b'"stock":4'),
                         content_type="application/json; charset=latin1")
        self.assertProblem(r, 415)
        self.assertEqual(self.recorded(eid), [])

    # -- finding 9: sku and category compared exactly (SPEC: "exact category") ---------

    def listing_skus(self, category):
        r = self.get("/api/products?limit=100&category=" + urllib.parse.quote(category))
        self.assertEqual(r.status, 200, r)
        return sorted(p["sku"] for p in r.json()["data"])

    def test_category_matches_exactly(self):
        a = self.create(category="exactberries")
        self.assertEqual(self.listing_skus("exactberries"), [a["sku"]])
        self.assertEqual(self.listing_skus("\u200bexactberries"), [])
        self.assertEqual(self.listing_skus("Exactberries"), [])
        self.assertEqual(self.listing_skus("EXACTBERRIES,exactberries"), [a["sku"]])
        b = self.create(category="Exactberries")
        self.assertEqual(self.listing_skus("Exactberries"), [b["sku"]])
        search = self.get("/api/products?search=kale&limit=100&category=Exactberries")
        self.assertEqual([p["sku"] for p in search.json()["data"]], [b["sku"]], search)

    def test_skus_differing_in_case_are_different_products(self):
        a = self.create(sku="CASE-SKU-1")
        b = self.create(sku="case-sku-1")
        self.assertNotEqual(a["id"], b["id"])
        self.assertEqual(self.product(b["id"])["sku"], "case-sku-1")
        r = self.admin("POST", "/products", {"sku": "CASE-SKU-1", "name": "Again",
                                             "category": "greens", "price": "1.00",
                                             "unit": "kg", "producer": "x"})
        self.assertProblem(r, 409)
        # A webhook for one spelling changes that product only.
        eid = "evt_case_sku"
        r = self.deliver(eid, self.event_body(eid, "case-sku-1", b'"stock":77'))
        self.assertEqual(r.json(), {"status": "success"}, r)
        self.assertEqual(self.product(b["id"])["stock"], 77)
        self.assertNotEqual(self.product(a["id"])["stock"], 77)

    # -- findings 2, 8 and 9: headers and the edges of the contract ----------------------

    def test_bearer_scheme_is_case_insensitive(self):
        p = self.create()
        for scheme in ("bearer", "BEARER"):
            r = self.request("PATCH", "/api/products/%d" % p["id"], body=b'{"stock":3}',
                             headers={"Authorization": scheme + " " + ADMIN_TOKEN,
                                      "Content-Type": "application/json"})
            self.assertEqual(r.status, 200, r)

    def test_repeated_categories_count_against_the_limit(self):
        r = self.get("/api/products?category=" + ",".join(["fruits"] * 21))
        self.assertIn("at most 20", self.assertProblem(r, 400)["detail"])
        self.assertEqual(self.get("/api/products?category=" + ",".join(["fruits"] * 20)).status,
                         200)

    def test_the_longest_valid_listing_keeps_its_link_header(self):
        names = ["%s%02d" % ("\u00e9" * 31, i) for i in range(20)]  # 64 bytes each
        for n in names[:2]:
            self.create(category=n)
        query = "limit=1&sort=name_asc&category=" + ",".join(
            urllib.parse.quote(n, safe="") for n in names)
        r = self.get("/api/products?" + query)
        self.assertEqual(r.status, 200, r)
        self.assertIn("rel=\"next\"", r.headers.get("Link", ""), r)

    def test_405_names_the_method_sent(self):
        r = self.request("PROPFIND", "/api/products")
        self.assertIn("PROPFIND", self.assertProblem(r, 405)["detail"])

    # -- finding 7: words beyond ASCII ---------------------------------------------------

    def search_skus(self, search):
        r = self.get("/api/products?limit=100&search=" + urllib.parse.quote(search))
        self.assertEqual(r.status, 200, r)
        return sorted(p["sku"] for p in r.json()["data"])

    def test_search_folds_case_beyond_ascii(self):
        p = self.create(name="\u00c4pfel Zw\u00f6lfgr\u00fcn",
                        description="\u041c\u0401\u0414 \u039c\u0388\u039b\u0399")
        for search in ("\u00e4pfel", "\u00c4PFEL", "ZW\u00d6LFGR\u00dcN", "zw\u00f6lf",
                       "\u043c\u0451\u0434", "\u03bc\u03ad\u03bb\u03b9"):
            with self.subTest(search):
                self.assertEqual(self.search_skus(search), [p["sku"]])

    def test_search_without_a_letter_or_digit_is_400(self):
        for search in ("\u2014\u2014", "\u20ac", "\u00bb \u00b7 \u00ab"):
            with self.subTest(search):
                r = self.get("/api/products?search=" + urllib.parse.quote(search))
                self.assertIn("must contain a word", self.assertProblem(r, 400)["detail"])

    def words_of(self, pid):
        return sorted(r[0] for r in self.stack.sql(
            "SELECT HEX(word) FROM product_words WHERE product_id = %d" % pid,
            database="farmlokal"))

    def test_reindex_rewrites_words_indexed_by_the_old_splitter(self):
        p = self.create(name="\u00d6lk\u00fcrbis Gr\u00fcnkohl \u2014 Kiste", description="")
        folded = self.words_of(p["id"])
        # The rows the ASCII-only splitter wrote: non-ASCII kept its case, a dash was a word.
        old = ["\u00d6lk\u00fcrbis", "gr\u00fcnkohl", "\u2014", "kiste"]
        hexes = ["UNHEX('%s')" % w.encode().hex() for w in old]
        self.stack.sql(
            "DELETE FROM product_words WHERE product_id = %d; "
            "INSERT INTO product_words (word, product_id, created_at, price, name, category) "
            "SELECT w.word, p.id, p.created_at, p.price, p.name, p.category FROM products p "
            "JOIN (SELECT %s) w WHERE p.id = %d; INSERT IGNORE INTO vocabulary (word) VALUES %s"
            % (p["id"], " UNION ALL SELECT ".join(h + " AS word" for h in hexes), p["id"],
               ",".join("(%s)" % h for h in hexes)),
            database="farmlokal")
        self.assertEqual(self.search_skus("\u00f6lk\u00fcrbis"), [])
        res = self.stack.ctl("reindex", "--batch", "7")
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.words_of(p["id"]), folded)
        self.assertEqual(self.search_skus("\u00d6LK\u00dcRBIS"), [p["sku"]])
        stale = self.stack.sql("SELECT COUNT(*) FROM vocabulary WHERE word IN (%s, %s)"
                               % (hexes[0], hexes[2]), database="farmlokal")
        self.assertEqual(stale, [["0"]])
        # Again, and resumed past the end: nothing changes.
        for args in ((), ("--after", str(p["id"]))):
            res = self.stack.ctl("reindex", *args)
            self.assertEqual(res.returncode, 0, res)
        self.assertEqual(self.words_of(p["id"]), folded)
        self.assertEqual(self.stack.ctl("reindex", "--batch", "0").returncode, 2)

    # -- check-data ----------------------------------------------------------------------

    def test_check_data_reports_stored_text_that_is_not_utf8(self):
        p = self.create()
        res = self.stack.ctl("check-data")
        self.assertEqual(res.returncode, 0, res)
        # A surrogate, as MariaDB stored it before input was checked.
        self.stack.sql("UPDATE products SET producer = UNHEX('6162EDA08063') WHERE id = %d"
                       % p["id"], database="farmlokal")
        res = self.stack.ctl("check-data")
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(b"product %d: producer is not valid UTF-8" % p["id"], res.stdout)
        self.stack.sql("UPDATE products SET producer = 'Hill Farm' WHERE id = %d" % p["id"],
                       database="farmlokal")
        self.assertEqual(self.stack.ctl("check-data").returncode, 0)


class NginxErrorsTest(harness.StackTestCase):
    """nginx's own answers, with no app behind it: problem+json, never HTML."""

    app_workers = None

    def assertNginxProblem(self, status, headers, body, want):
        self.assertEqual(status, want, body)
        self.assertEqual(headers.get("content-type"), "application/problem+json", headers)
        problem = json.loads(body.decode("utf-8"))
        self.assertEqual(problem["status"], want, problem)
        self.assertTrue(problem["title"] and problem["detail"], problem)
        self.assertEqual(problem["request_id"], headers.get("x-request-id"), (problem, headers))

    def test_502_when_no_worker_answers(self):
        r = self.get("/api/health")
        self.assertNginxProblem(r.status, {k.lower(): v for k, v in r.headers.items()}, r.body, 502)

    def test_413_over_the_body_limit(self):
        port = self.stack.nginx_port
        answer = raw_http(port, b"POST /api/products HTTP/1.1\r\nHost: localhost\r\n"
                                b"Content-Type: application/json\r\nContent-Length: 2000000\r\n"
                                b"Connection: close\r\n\r\n")
        self.assertNginxProblem(*answer, 413)

    def test_414_for_a_request_line_too_long(self):
        answer = raw_http(self.stack.nginx_port, b"GET /api/products?q=" + b"a" * 40000 +
                          b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertNginxProblem(*answer, 414)

    def test_400_for_a_malformed_request(self):
        for raw in (b"GARBAGE\r\n\r\n", b"GET /api/health HTTP/1.1\r\nConnection: close\r\n\r\n",
                    b"GET /api/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"):
            with self.subTest(raw=raw):
                self.assertNginxProblem(*raw_http(self.stack.nginx_port, raw), 400)


if __name__ == "__main__":
    unittest.main()
