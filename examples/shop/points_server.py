#!/usr/bin/env python3
"""The points service of the example shop: a small JSON API, as a SaaS would offer it.

Standard library only. Records come from a JSON file (a list of objects). Every request
needs `Authorization: Bearer <token>`.

    python3 points_server.py --port 8091 --data points.json --token example-token

Routes that read (GET):
  /                      {"service": "points"} (what a connection check asks for)
  /v1/points?email=      records of that address, two per page: {"data": [...],
                         "next_cursor": "..."}; the next page with &cursor=
  /v1/points-by-page?email=&page=N   {"items": [...]}, pages numbered from 1
  /v1/points-linked?email=           a bare list, the next page in a Link header
  /v1/points-unfiltered?email=       everyone's records, the filter ignored (a broken
                         service: the connector must keep only the subject's)
  /_stats                {"requests": n, "changes": n, "replayed": n}: requests to /v1,
                         changes made, changes not made again (a repeated Idempotency-Key)
  /_records              every record as it is now (for tests)

Routes that change (a member is addressed by e-mail, compared without case):
  DELETE /v1/members/<email>/points   deletes the member's records: 204, or 404 if none
  PATCH  /v1/members/<email>/points   sets the JSON object's keys in each of the member's
                         records (a dotted key sets a nested one): 200 {"updated": n}, 404
                         if none
A change that carries an Idempotency-Key already seen is answered as the first time was,
and not made again.

--fail-first N answers the first N requests to /v1 with 503 (or 429 with Retry-After: 1
when --fail-status 429), to show retries.

The port actually bound is printed as `listening on <port>` (use --port 0 for any).
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

PAGE = 2


class State:
    def __init__(self, records, token, fail_first, fail_status):
        self.records = records
        self.token = token
        self.fail_left = fail_first
        self.fail_status = fail_status
        self.requests = 0
        self.changes = 0
        self.replayed = 0
        self.seen = {}
        self.lock = threading.Lock()


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            # Query strings hold e-mail addresses: nothing is logged.
            pass

        def send_json(self, status, body, headers=()):
            data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_DELETE(self):
            change(self, state, "DELETE")

        def do_PATCH(self):
            change(self, state, "PATCH")

        def do_GET(self):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if self.headers.get("Authorization") != "Bearer " + state.token:
                return self.send_json(401, {"error": "unauthorised"})
            if url.path == "/":
                return self.send_json(200, {"service": "points"})
            if url.path == "/_stats":
                return self.send_json(200, {"requests": state.requests,
                                            "changes": state.changes,
                                            "replayed": state.replayed})
            if url.path == "/_records":
                with state.lock:
                    return self.send_json(200, state.records)
            if not url.path.startswith("/v1/"):
                return self.send_json(404, {"error": "not found"})
            with state.lock:
                state.requests += 1
                failing = state.fail_left > 0
                if failing:
                    state.fail_left -= 1
            if failing:
                if state.fail_status == 429:
                    return self.send_json(429, {"error": "slow down"}, [("Retry-After", "1")])
                return self.send_json(503, {"error": "unavailable"})
            email = query.get("email", "").strip().lower()
            if url.path == "/v1/points-unfiltered":
                return self.send_json(200, {"data": state.records})
            mine = [r for r in state.records if r.get("email", "").lower() == email]
            if url.path == "/v1/points":
                start = int(query.get("cursor", "0") or 0)
                page = mine[start:start + PAGE]
                nxt = str(start + PAGE) if start + PAGE < len(mine) else None
                return self.send_json(200, {"data": page, "next_cursor": nxt})
            if url.path == "/v1/points-by-page":
                n = int(query.get("page", "1") or 1)
                return self.send_json(200, {"items": mine[(n - 1) * PAGE:n * PAGE]})
            if url.path == "/v1/points-linked":
                start = int(query.get("offset", "0") or 0)
                headers = []
                if start + PAGE < len(mine):
                    nxt = urlencode({"email": email, "offset": start + PAGE})
                    headers.append(("Link", '<%s?%s>; rel="next"' % (url.path, nxt)))
                return self.send_json(200, mine[start:start + PAGE], headers)
            return self.send_json(404, {"error": "not found"})

    return Handler


def change(handler, state, method):
    url = urlsplit(handler.path)
    if handler.headers.get("Authorization") != "Bearer " + state.token:
        return handler.send_json(401, {"error": "unauthorised"})
    parts = url.path.split("/")
    # ['', 'v1', 'members', '<email>', 'points']
    if len(parts) != 5 or parts[1:3] != ["v1", "members"] or parts[4] != "points":
        return handler.send_json(404, {"error": "not found"})
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    with state.lock:
        state.requests += 1
        failing = state.fail_left > 0
        if failing:
            state.fail_left -= 1
    if failing:
        return handler.send_json(503, {"error": "unavailable"})
    email = unquote(parts[3]).strip().lower()
    key = handler.headers.get("Idempotency-Key")
    with state.lock:
        if key and key in state.seen:
            state.replayed += 1
            status, body = state.seen[key]
            return handler.send_json(status, body)
        mine = [r for r in state.records if (r.get("email") or "").lower() == email]
        if not mine:
            status, body = 404, {"error": "no such member"}
        elif method == "DELETE":
            state.records = [r for r in state.records if r not in mine]
            state.changes += 1
            status, body = 204, None
        else:
            try:
                values = json.loads(raw or b"{}")
                assert isinstance(values, dict)
            except (ValueError, AssertionError):
                return handler.send_json(400, {"error": "a JSON object is needed"})
            for r in mine:
                for k, v in values.items():
                    target = r
                    *path, last = k.split(".")
                    for p in path:
                        if not isinstance(target.get(p), dict):
                            target[p] = {}
                        target = target[p]
                    target[last] = v
            state.changes += 1
            status, body = 200, {"updated": len(mine)}
        if key:
            state.seen[key] = (status, body)
    return handler.send_json(status, body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--data", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=503, choices=[429, 503])
    args = p.parse_args()
    with open(args.data, encoding="utf-8") as f:
        records = json.load(f)
    state = State(records, args.token, args.fail_first, args.fail_status)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
