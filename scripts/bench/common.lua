-- common.lua: shared by the wrk scripts of scripts/bench (wrk runs them with
-- the repository root as working directory).
--
-- report() is wrk's done() hook: it appends one JSON line with throughput,
-- latency percentiles (ms) and error counts to $WRK_JSON (stdout if unset),
-- labelled $WRK_LABEL, with the fields of extra (a table of numbers) if given.

local M = {}

function M.report(summary, latency, requests, extra)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local line = string.format(
    '{"label":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"non_2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}',
    os.getenv("WRK_LABEL") or "", summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.status, e.connect, e.read, e.write, e.timeout)
  local names = {}
  for name in pairs(extra or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    line = line:sub(1, -2) .. string.format(',"%s":%d}', name, extra[name])
  end
  local path = os.getenv("WRK_JSON")
  if path and path ~= "" then
    local f = assert(io.open(path, "a"))
    f:write(line, "\n")
    f:close()
  else
    print(line)
  end
end

-- lines returns the lines of a file of "token<TAB>user_id" lines as
-- {token=..., user=...} tables.
function M.tokens(path)
  local out = {}
  for l in io.lines(path) do
    local token, user = l:match("^([^\t]+)\t(.+)$")
    if token then out[#out + 1] = { token = token, user = user } end
  end
  assert(#out > 0, "no tokens in " .. path)
  return out
end

-- Every thread gets a number 0..n-1 (wrk's setup runs in the main state,
-- as does done(), which may read the threads' globals from M.threads).
M.threads = {}
function M.setup(thread)
  thread:set("thread_id", #M.threads)
  M.threads[#M.threads + 1] = thread
end

return M
