-- Shared by every wrk script of the harness: counts response statuses per thread and, when the
-- run ends, prints one line `BENCH_RESULT {json}` that bench/wrk.py parses.
--
-- Usage from a script:  local report = require("report"); report.install()
-- It defines the global wrk hooks setup(), response() and done(); a script that needs its own
-- response() calls report.count(status) from it.

local report = {}

local threads = {}

function report.count(status)
   statuses[status] = (statuses[status] or 0) + 1
end

local function json_object(map)
   local parts = {}
   for key, value in pairs(map) do
      parts[#parts + 1] = string.format('"%s":%d', tostring(key), value)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function report.install()
   -- Runs in the main Lua state, once per thread, before the thread's own init().
   function setup(thread)
      thread:set("thread_index", #threads)
      threads[#threads + 1] = thread
   end

   -- Per-thread state: wrk creates one Lua state per thread.
   statuses = {}

   if response == nil then
      function response(status, headers, body)
         report.count(status)
      end
   end

   function done(summary, latency, requests)
      local merged = {}
      for _, thread in ipairs(threads) do
         local counted = thread:get("statuses") or {}
         for status, count in pairs(counted) do
            merged[status] = (merged[status] or 0) + count
         end
      end
      local seconds = summary.duration / 1e6
      local errors = summary.errors
      io.write(string.format(
         'BENCH_RESULT {"requests":%d,"duration_s":%.6f,"rps":%.3f,"bytes":%d,'
            .. '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,'
            .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},'
            .. '"statuses":%s,"threads":%d}\n',
         summary.requests, seconds, summary.requests / seconds, summary.bytes,
         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
         latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
         errors.connect, errors.read, errors.write, errors.timeout, errors.status,
         json_object(merged), #threads
      ))
   end
end

return report
