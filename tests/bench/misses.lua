-- SPDX-License-Identifier: MIT
-- wrk script for tests/bench/bench.py edge: every request a listing no tier has seen (a
-- maxPrice of its own, above every price, so each page is a full page of 20), so each one
-- is a miss at the edge, in Redis and a statement in MariaDB.
local threads = 0

function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

function init(args)
  n = 0
end

function request()
  n = n + 1
  return wrk.format("GET", string.format("/api/products?limit=20&maxPrice=%d.%02d",
                                         1000000 + n, index % 100))
end
