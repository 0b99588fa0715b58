-- A light prober for GET / while the login flood runs: each connection waits 10 ms between
-- requests (wrk's delay()), so it measures responsiveness, not throughput. The summary is
-- report.lua's.
function delay()
  return 10
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("rps=%.1f\np50_ms=%.3f\np99_ms=%.3f\nrequests=%d\nerrors=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, bad))
end
