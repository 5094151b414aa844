-- Reads the request files that bench/wrk.py writes, one request per line, tab-separated:
--   METHOD <tab> PATH <tab> BODY (may be empty) <tab> Header: value <tab> Header: value ...
--
-- Usage from a script:  local request_lines = require("request_lines")
--   request_lines.read(path) -> { {method=, path=, headers=, body=}, ... } (body nil when empty)

local request_lines = {}

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

function request_lines.parse(line)
   local fields = split_tabs(line)
   local headers = {}
   for index = 4, #fields do
      local name, value = string.match(fields[index], "^([^:]+):%s*(.*)$")
      headers[name] = value
   end
   local body = fields[3] ~= "" and fields[3] or nil
   return { method = fields[1], path = fields[2], headers = headers, body = body }
end

function request_lines.read(path)
   local parsed = {}
   for line in io.lines(path) do
      if line ~= "" then
         parsed[#parsed + 1] = request_lines.parse(line)
      end
   end
   assert(#parsed > 0, "no requests in " .. path)
   return parsed
end

return request_lines
