-- Machine-readable summary of a plain wrk run (GET with optional -H Cookie). Arguments after
-- `--`, if any, are Cookie header values used in turn, one per request (many users' logins
-- instead of one user's).
local requests = {}
local turn = 0

function init(args)
  for i, cookie in ipairs(args) do
    requests[i] = wrk.format(nil, nil, { ["Cookie"] = cookie })
  end
end

function request()
  if #requests == 0 then
    return wrk.request()
  end
  turn = turn % #requests + 1
  return requests[turn]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("rps=%.1f\np50_ms=%.3f\np99_ms=%.3f\nrequests=%d\nerrors=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, bad))
end
