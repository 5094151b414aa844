-- Replays pre-built requests round-robin, each thread from its own offset.
--
-- BENCH_REQUESTS names a file written by bench/wrk.py (format in request_lines.lua).
-- Building the requests in Python keeps the Lua side generic: form bodies (password grant),
-- per-request headers (bearer tokens, X-Tenant) and paths (baseline ids) are all just lines.

package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")
local request_lines = require("request_lines")
report.install()

local requests = {}
local position = 1

function init(args)
   local path = os.getenv("BENCH_REQUESTS")
   assert(path, "BENCH_REQUESTS is not set")
   for _, parsed in ipairs(request_lines.read(path)) do
      requests[#requests + 1] = wrk.format(parsed.method, parsed.path, parsed.headers, parsed.body)
   end
   -- Spread the threads over the list so that they do not all start on the same user.
   local index = thread_index or 0
   position = (index * 7919) % #requests + 1
end

function request()
   local chosen = requests[position]
   position = position % #requests + 1
   return chosen
end
