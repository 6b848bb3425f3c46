#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The API description (issue #10): GET /openapi.json serves app/openapi.json with the
mount prefix in `servers`, validated by ETag; every operation it documents reaches a
handler; and the contract check the harness applies to every response (openapi_check.py)
rejects what the document does not allow, so it cannot pass by checking nothing.
"""
import http.client
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from openapi_check import CONTRACT, DOCUMENT, ContractError  # noqa: E402

ADMIN_TOKEN = "openapi-admin-0123456789abcdef"

PRODUCT = {"id": 7, "sku": "VEG-7", "name": "Leeks", "description": "", "category": "vegetables",
           "price": "3.20", "unit": "kg", "stock": 4, "producer": "Hill Farm",
           "created_at": "2026-11-24T14:42:29.123456Z", "updated_at": "2026-11-24T14:42:29.123456Z"}


def response(status, body, content_type="application/json; charset=utf-8", **headers):
    """A harness Response as the app would send it."""
    msg = http.client.HTTPMessage()
    msg["Content-Type"] = content_type
    msg["X-Request-Id"] = "r1"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return harness.Response(status, msg, json.dumps(body).encode())


def page(body):
    return response(200, body, ETag='"0123"', Cache_Control="public, max-age=60", X_Cache="MISS")


PROBLEM = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such resource",
           "instance": "/api/nope", "request_id": "r1"}


class ContractCheckTest(unittest.TestCase):
    """The check itself, on responses made here: right ones pass, each kind of wrong one fails."""

    def test_right_responses_pass(self):
        CONTRACT.check("GET", "/products", page({"status": "success", "data": [PRODUCT],
                                                 "nextCursor": None}))
        CONTRACT.check("GET", "/nope", response(404, PROBLEM, "application/problem+json"))
        CONTRACT.check("HEAD", "/products/7", response(200, {}, ETag='"1"', X_Cache="HIT",
                                                       Cache_Control="public, max-age=1"))

    def test_wrong_bodies_fail(self):
        wrong = []
        for field, value in (("price", 3.2), ("price", "3.2"), ("id", 0), ("stock", -1),
                             ("created_at", "2026-11-24 14:42:29"), ("extra", 1)):
            product = dict(PRODUCT, **{field: value})
            wrong.append(page({"status": "success", "data": [product], "nextCursor": None}))
        without_sku = {k: v for k, v in PRODUCT.items() if k != "sku"}
        wrong.append(page({"status": "success", "data": [without_sku], "nextCursor": None}))
        wrong.append(page({"status": "ok", "data": [], "nextCursor": None}))
        wrong.append(page({"status": "success", "data": []}))
        wrong.append(page([]))
        for resp in wrong:
            with self.assertRaises(ContractError, msg=resp.body):
                CONTRACT.check("GET", "/products", resp)

    def test_wrong_problems_fail(self):
        for change in ({"request_id": None}, {"status": "404"}, {"type": "not-a-problem-type"},
                       {"trace": "at main.c:12"}):
            problem = {k: v for k, v in dict(PROBLEM, **change).items() if v is not None}
            with self.assertRaises(ContractError, msg=problem):
                CONTRACT.check("GET", "/products/7",
                               response(404, problem, "application/problem+json"))
        with self.assertRaises(ContractError):  # a problem sent as plain JSON
            CONTRACT.check("GET", "/nope", response(404, PROBLEM))

    def test_undocumented_statuses_headers_and_types_fail(self):
        ok = {"status": "success", "data": [], "nextCursor": None}
        cases = [
            ("GET", "/products", response(201, ok)),                      # no 201 on a GET
            ("GET", "/products", response(200, ok)),                      # no ETag, X-Cache
            ("GET", "/products", response(200, ok, "text/html", ETag='"1"', X_Cache="HIT",
                                          Cache_Control="public, max-age=1")),
            ("GET", "/products", response(200, ok, ETag='"1"', X_Cache="WARM",  # no such
                                          Cache_Control="public, max-age=1")),
            ("DELETE", "/products", response(405, dict(PROBLEM, status=405),
                                             "application/problem+json")),  # no Allow
        ]
        for method, path, resp in cases:
            with self.assertRaises(ContractError, msg=(method, path, resp)):
                CONTRACT.check(method, path, resp)


class ServedDocumentTest(harness.StackTestCase):
    """GET /openapi.json through nginx and straight over FastCGI."""

    app_env = {"FL_ADMIN_TOKEN": ADMIN_TOKEN}

    def test_served_with_the_mount_prefix(self):
        with open(DOCUMENT, encoding="utf-8") as f:
            source = json.load(f)
        r = self.get("/api/openapi.json")
        self.assertEqual(r.status, 200, r)
        served = r.json()
        self.assertEqual(served["servers"][0]["url"], "/api")
        self.assertEqual(served, source)  # the source names the shipped mount, /api
        root = self.stack.fcgi("/openapi.json", script_name="").json()
        self.assertEqual(root["servers"][0]["url"], "/")
        self.assertEqual(dict(root, servers=source["servers"]), source)

    def test_etag_revalidates(self):
        r = self.get("/api/openapi.json")
        etag = r.headers["ETag"]
        again = self.get("/api/openapi.json", headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304, again)
        self.assertEqual(again.body, b"")
        self.assertEqual(again.headers["ETag"], etag)
        self.assertEqual(self.get("/api/openapi.json", headers={"If-None-Match": '"x"'}).status, 200)
        head = self.request("HEAD", "/api/openapi.json")
        self.assertEqual((head.status, head.headers["ETag"]), (200, etag), head)

    def test_every_documented_operation_is_routed(self):
        """Each path and method of the document reaches a handler: never the 404 of an
        unknown path, never a 405 (admin routes exist: FL_ADMIN_TOKEN is set)."""
        for template, item in CONTRACT.doc["paths"].items():
            path = "/api" + template.replace("{id}", "7")
            for method in item:
                if method == "parameters":
                    continue
                body = {} if method in ("post", "patch") else None
                r = self.request(method.upper(), path, body=body)
                self.assertNotEqual(r.status, 405, r)
                if r.status == 404:
                    self.assertNotEqual(r.json()["detail"], "no such resource", r)

    def test_main_routes_pass_the_check(self):
        """Bodies of the main routes, each checked by the harness against the document."""
        auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
        created = self.request("POST", "/api/products", headers=auth, body={
            "sku": "OA-1", "name": "Spring Onions", "category": "vegetables", "price": "1.50",
            "unit": "bunch", "producer": "Hill Farm"})
        self.assertEqual(created.status, 201, created)
        pid = created.json()["data"]["id"]
        changed = self.request("PATCH", "/api/products/%d" % pid, headers=auth, body={"stock": 3})
        self.assertEqual(changed.status, 200, changed)
        listing = self.get("/api/products?limit=1&sort=price_asc&search=onion")
        self.assertEqual(listing.status, 200, listing)
        self.assertEqual(self.get("/api/products/%d" % pid).status, 200)
        self.assertEqual(self.get("/api/health").status, 200)
        self.assertEqual(self.get("/api/metrics").status, 200)
        # and what the checker makes of a body it did not get from the app
        bad = harness.Response(200, listing.headers,
                               listing.body.replace(b'"price":"1.50"', b'"price":1.5'))
        self.assertNotEqual(bad.body, listing.body)
        with self.assertRaises(ContractError):
            CONTRACT.check("GET", "/products", bad)


if __name__ == "__main__":
    unittest.main()
