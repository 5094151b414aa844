-- Replays pre-built requests round-robin, each thread from its own offset.
--
-- BENCH_REQUESTS names a file written by bench/wrk.py, one request per line, tab-separated:
--   METHOD <tab> PATH <tab> BODY (may be empty) <tab> Header: value <tab> Header: value ...
-- Building the requests in Python keeps the Lua side generic: form bodies (password grant),
-- per-request headers (bearer tokens, X-Tenant) and paths (baseline ids) are all just lines.

package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")
report.install()

local function split_tabs(line)
   local fields = {}
   local start = 1
   while true do
      local stop = string.find(line, "\t", start, true)
      if stop == nil then
         fields[#fields + 1] = string.sub(line, start)
         return fields
      end
      fields[#fields + 1] = string.sub(line, start, stop - 1)
      start = stop + 1
   end
end

local requests = {}
local position = 1

function init(args)
   local path = os.getenv("BENCH_REQUESTS")
   assert(path, "BENCH_REQUESTS is not set")
   for line in io.lines(path) do
      if line ~= "" then
         local fields = split_tabs(line)
         local headers = {}
         for index = 4, #fields do
            local name, value = string.match(fields[index], "^([^:]+):%s*(.*)$")
            headers[name] = value
         end
         local body = fields[3] ~= "" and fields[3] or nil
         requests[#requests + 1] = wrk.format(fields[1], fields[2], headers, body)
      end
   end
   assert(#requests > 0, "no requests in " .. path)
   -- Spread the threads over the list so that they do not all start on the same user.
   local index = thread_index or 0
   position = (index * 7919) % #requests + 1
end

function request()
   local chosen = requests[position]
   position = position % #requests + 1
   return chosen
end
