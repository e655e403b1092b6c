-- wrk script for `make bench`.
-- When BENCH_FORM_BODY is set, every request is a POST of that form body.
-- At the end wrk prints one line "BENCH_RESULT {json}" with the request
-- count, the duration and the latency percentiles in microseconds.

local body = os.getenv("BENCH_FORM_BODY")
if body ~= nil and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, ' ..
    '"p50_us": %.0f, "p99_us": %.0f, "max_us": %.0f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
