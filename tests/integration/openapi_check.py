# SPDX-License-Identifier: MIT
"""Checks HTTP responses against the API description, app/openapi.json.

The harness's HTTP helpers (Stack.request, Stack.fcgi) hand every response to CONTRACT,
so each integration test also checks that what it received is what the document says:

- the route (path template and method) is found as the app routes: percent-decoded, one
  trailing slash ignored, `{x}` one non-empty segment. A path of no route is checked as
  the document's `x-unrouted-responses` `unknown-path` (404), a known path with a method
  it lacks as `wrong-method` (405); other statuses there only as problem details;
- the status is documented for the operation;
- every header the response object marks required is present, and every documented header
  that is present matches its schema;
- a body is one of the documented media types, and a JSON body is valid against its schema
  (OpenAPI 3.1 schemas are JSON Schema 2020-12, checked with python3-jsonschema).

A violation raises ContractError (an AssertionError), so the test that met it fails.
"""

import gzip
import json
import os
import re
import urllib.parse

import jsonschema

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(REPO_ROOT, "app", "openapi.json")


class ContractError(AssertionError):
    """A response the API description does not allow."""


def _media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


class Contract:
    """The API description, ready to check responses against (unless `enabled` is false:
    the benchmarks, which also drive a minimal responder that is not the API, turn it off)."""

    def __init__(self, doc):
        self.enabled = True
        self.doc = doc
        self.prefix = doc["servers"][0]["url"].rstrip("/")
        self.routes = []
        for template, item in doc["paths"].items():
            pattern = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
            self.routes.append((re.compile(pattern + r"\Z"), template, item))
        self._validators = {}

    @classmethod
    def load(cls, path=DOCUMENT):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def resolve(self, obj):
        """obj with its local $ref followed (also a chain of them)."""
        while "$ref" in obj:
            node = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def _validator(self, schema):
        """A 2020-12 validator of schema whose #/components/... references resolve here."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                    "allOf": [schema], "components": self.doc["components"]}
            self._validators[key] = jsonschema.Draft202012Validator(root)
        return self._validators[key]

    def route_path(self, target):
        """The route path of an HTTP request target under the mount prefix ("/api/x?q" ->
        "/x"), or None when the target is outside the API."""
        path = urllib.parse.unquote(target.split("?", 1)[0], errors="surrogateescape")
        if not path.startswith(self.prefix + "/"):
            return None
        return path[len(self.prefix):]

    def response_for(self, method, path, status):
        """(what, response object) the document gives for method on route path with this
        status: what names the operation; the object is None when only the problem schema
        applies. Raises ContractError for a status the operation does not document."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        items = [(t, item) for rx, t, item in self.routes if rx.match(path)]
        verb = "get" if method.upper() == "HEAD" else method.lower()
        ops = [(t, item[verb]) for t, item in items if verb in item]
        if ops:
            template, op = ops[0]
            what = "%s %s" % (method.upper(), template)
            response = op["responses"].get(str(status), op["responses"].get("default"))
            if response is None:
                raise ContractError("%s: status %d is not documented (documented: %s)"
                                    % (what, status, ", ".join(op["responses"])))
            return what, self.resolve(response)
        unrouted = self.doc["x-unrouted-responses"]
        case, expected = ("wrong-method", 405) if items else ("unknown-path", 404)
        what = "%s %s (%s)" % (method.upper(), path, case)
        return what, self.resolve(unrouted[case]) if status == expected else None

    def check(self, method, path, resp):
        """Checks resp (a harness Response) to method on route path. Raises ContractError."""
        if not self.enabled:
            return
        what, response = self.response_for(method, path, resp.status)
        if response is None:
            if resp.body or resp.content_type == "application/problem+json":
                self.check_body(what, resp, {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}})
            return
        for name, header in response.get("headers", {}).items():
            header = self.resolve(header)
            value = resp.headers.get(name)
            if value is None:
                if header.get("required"):
                    raise ContractError("%s %d: required header %s is missing: %r"
                                        % (what, resp.status, name, resp))
                continue
            self.validate("%s %d header %s" % (what, resp.status, name), value,
                          header.get("schema", {}))
        if method.upper() != "HEAD" and resp.status not in (204, 304):
            self.check_body("%s %d" % (what, resp.status), resp, response.get("content", {}))

    def check_body(self, what, resp, content):
        """Checks resp's body against a content map (media type -> media type object)."""
        if not resp.body and not resp.content_type:
            if content:
                raise ContractError("%s: no body, documented: %s" % (what, ", ".join(content)))
            return
        media = {_media_type(k): v for k, v in content.items()}.get(resp.content_type)
        if media is None:
            raise ContractError("%s: Content-Type %r is not documented (documented: %s): %r"
                                % (what, resp.headers.get("Content-Type"),
                                   ", ".join(content) or "no body", resp))
        if not resp.content_type.endswith("json"):
            return
        raw = resp.body
        if resp.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)  # the app sends pages gzip to clients that take it
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            raise ContractError("%s: the body is not UTF-8 JSON (%s): %r" % (what, e, resp))
        self.validate(what + " body", body, media.get("schema", {}))

    def validate(self, what, instance, schema):
        error = jsonschema.exceptions.best_match(self._validator(schema).iter_errors(instance))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            raise ContractError("%s does not match the API description at %s: %s"
                                % (what, where, error.message))


CONTRACT = Contract.load()
