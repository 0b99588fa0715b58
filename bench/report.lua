-- Machine-readable summary of a plain wrk run (GET with optional -H Cookie).
function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("rps=%.1f\np50_ms=%.3f\np99_ms=%.3f\nrequests=%d\nerrors=%d\n",
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, bad))
end
