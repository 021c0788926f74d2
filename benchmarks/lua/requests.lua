-- Replays prepared requests from a file, one per line: METHOD <tab> PATH <tab> BODY.
-- Arguments (after `--`): the file; "cycle" (repeat the lines) or "once" (each line is
-- sent once; a thread that runs out stops); the number of wrk threads.
-- Prints one line "WRK_JSON {...}" with the throughput, latency percentiles and statuses.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 0
local once = false
local statuses = {}
-- Globals, read by done() through thread:get.
status_text = ""
first_error_text = ""
exhausted_flag = 0

function init(args)
  local path, mode, thread_count = args[1], args[2], tonumber(args[3] or "1")
  once = mode == "once"
  local headers = { ["Content-Type"] = "application/json" }
  local index = 0
  for line in io.lines(path) do
    -- In "once" mode each thread takes its own share of the lines.
    if not once or index % thread_count == id then
      local method, target, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      if body == "" then body = nil end
      table.insert(requests, wrk.format(method, target, headers, body))
    end
    index = index + 1
  end
end

function request()
  position = position + 1
  if position > #requests then
    if once then
      exhausted_flag = 1
      position = #requests
    else
      position = 1
    end
  end
  return requests[position]
end

function response(status, headers, body)
  if status >= 300 then
    statuses[status] = (statuses[status] or 0) + 1
    local parts = {}
    for code, n in pairs(statuses) do table.insert(parts, code .. ":" .. n) end
    status_text = table.concat(parts, ",")
    if first_error_text == "" then
      first_error_text = tostring(status) .. " " .. body:sub(1, 300)
    end
  end
  if exhausted_flag == 1 then wrk.thread:stop() end
end

-- A thread's tables cannot cross to the main state: encode them as strings.
function done(summary, latency, requests_)
  local status_parts, errors, ran_out = {}, {}, 0
  local merged = {}
  for _, thread in ipairs(threads) do
    local encoded = thread:get("status_text") or ""
    for code, n in encoded:gmatch("(%d+):(%d+)") do
      merged[code] = (merged[code] or 0) + tonumber(n)
    end
    local err = thread:get("first_error_text") or ""
    if err ~= "" and #errors == 0 then table.insert(errors, err) end
    ran_out = ran_out + (thread:get("exhausted_flag") or 0)
  end
  for code, n in pairs(merged) do table.insert(status_parts, string.format('"%s":%d', code, n)) end
  local function escape(s)
    return (s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' '))
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
    '"statuses":{%s},"first_error":"%s","threads_exhausted":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9),
    table.concat(status_parts, ","), escape(errors[1] or ""), ran_out))
end
