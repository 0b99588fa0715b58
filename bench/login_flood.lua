-- Successful form logins per second: each wrk thread has one connection, which alternates
-- GET /login (fresh session cookie + CSRF token) and POST /login with them, as a browser
-- does. Args: the password, then one or more emails (URL-encoded): thread n logs in the
-- n-th (round robin), so that 8 threads with 8 emails are 8 accounts' browsers, none of
-- them held back by its own account's login throttle. Prints key=value lines when done.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  password = args[1]
  local emails = {}
  for i = 2, #args do
    emails[#emails + 1] = args[i]
  end
  email = emails[(id - 1) % #emails + 1]
  state, cookie, token = "get", nil, nil
  -- Globals: done() reads them from each thread with thread:get().
  logins, refused, busy, other = 0, 0, 0, 0
end

function request()
  if state == "get" then
    return wrk.format("GET", "/login")
  end
  local body = "email=" .. email .. "&password=" .. password .. "&csrf_token=" .. token
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
  }, body)
end

local function session_cookie(headers)
  for name, value in pairs(headers) do
    if name:lower() == "set-cookie" then
      return value:match("^([^;]+)")
    end
  end
end

function response(status, headers, body)
  if state == "get" then
    cookie = session_cookie(headers)
    token = body:match('name="csrf_token"[^>]*value="([^"]+)"')
    if cookie and token and status == 200 then
      state = "post"
    else
      other = other + 1
    end
    return
  end
  state = "get"
  local location = nil
  for name, value in pairs(headers) do
    if name:lower() == "location" then location = value end
  end
  if (status == 302 or status == 303) and location and not location:find("/login") then
    logins = logins + 1
  elseif status == 503 then
    busy = busy + 1
  elseif status == 200 then
    refused = refused + 1 -- the form again, with an error
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = { logins = 0, refused = 0, busy = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + (thread:get(k) or 0)
    end
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("logins=%d\nrefused=%d\nbusy=%d\nother=%d\nseconds=%.3f\n",
    t.logins, t.refused, t.busy, t.other, seconds))
end
