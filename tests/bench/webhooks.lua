-- SPDX-License-Identifier: MIT
-- wrk script for tests/bench/bench.py: posts pre-signed webhook deliveries, each thread
-- its own slice of the file, so every request is a distinct event.
-- Lines: webhook-id <TAB> webhook-timestamp <TAB> webhook-signature <TAB> body
local lines = {}
local threads = 0

function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

function init(args)
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if (n - 1) % tonumber(args[2]) == index then
      lines[#lines + 1] = line
    end
  end
  pos = 0
end

function request()
  pos = pos % #lines + 1
  local id, ts, sig, body = lines[pos]:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["webhook-id"] = id,
                                  ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
end
