-- Refresh-token rotation: every request presents a refresh token, and the token its answer
-- carries is the next one of the same chain (session). A token is never presented twice: the
-- service would take it for a stolen one and revoke the whole chain.
--
-- BENCH_REQUESTS holds one request, the template (format in request_lines.lua); its body ends
-- with `refresh_token=` and each request appends a token. BENCH_CHAINS names a file with the
-- first refresh token of each chain, one per line; thread k of n (BENCH_WRK_THREADS) takes lines
-- k+1, k+1+n, ... A thread serves several connections from one Lua state, and response() does not
-- say which connection answered, so chains are not tied to connections: request() takes an idle
-- chain, response() puts the rotated token back. The harness gives each thread one chain more
-- than it has connections: wrk calls request() once before the run to count pipelined requests,
-- and that token is never sent. A chain whose answer carries no new token ends there (the status
-- is counted); a thread left without an idle chain sends a token that does not exist, so the loss
-- shows as a 400 instead of a replay.

package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local report = require("report")
local request_lines = require("request_lines")

local template
local idle = {} -- the current token of each chain of this thread with no request in flight

function init(args)
   local requests = os.getenv("BENCH_REQUESTS")
   local chains = os.getenv("BENCH_CHAINS")
   assert(requests and chains, "BENCH_REQUESTS and BENCH_CHAINS must be set")
   template = request_lines.read(requests)[1]
   local threads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
   local index = thread_index or 0
   local line_number = 0
   for line in io.lines(chains) do
      if line ~= "" then
         if line_number % threads == index then
            idle[#idle + 1] = line
         end
         line_number = line_number + 1
      end
   end
   assert(#idle > 0, "no refresh tokens for thread " .. index .. " in " .. chains)
end

function request()
   local token = table.remove(idle) or "exhausted"
   return wrk.format(template.method, template.path, template.headers, template.body .. token)
end

function response(status, headers, body)
   report.count(status)
   if status == 200 and body then
      local rotated = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
      if rotated then
         idle[#idle + 1] = rotated
      end
   end
end

report.install()
