-- The benchmark's token scenarios under wrk (driven by bench/wrk.py; bench/README.md, round 10).
--
--   wrk -t N -c N -s bench/wrk.lua URL -- SCENARIO DATAFILE RECONNECT_EVERY N
--
-- One connection per wrk thread, so each thread's request() and response() alternate
-- strictly and its Lua state is its connection's: a refresh token is sent once, and the
-- next one sent is the one its answer rotated to. DATAFILE: line 1 the client's Basic
-- Authorization value, then one token per line (access tokens, or refresh tokens for
-- "refresh"); thread k takes lines k, k + N, k + 2N, ... as Python's generator does.

local threads, made = {}, 0

function setup(thread)
   thread:set("id", made)
   made = made + 1
   table.insert(threads, thread)
end

local function form(value)
   return (value:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function init(args)
   scenario, every = args[1], tonumber(args[3])
   local lines = {}
   for line in io.lines(args[2]) do lines[#lines + 1] = line end
   auth, tokens, origin, spent = lines[1], {}, {}, {}
   for i = 2 + id, #lines, tonumber(args[4]) do
      tokens[#tokens + 1] = lines[i]
      origin[#origin + 1] = i - 2  -- index in the caller's token list
   end
   slot, sent, bad, sample = 1, 0, 0, ""
   -- wrk calls thread 0's request() once before the run to inspect the request; that
   -- one is never sent, so it must not mark a refresh token as in flight.
   probe = id == 0
end

-- A refresh token whose answer never came (the connection failed; wrk then asks for a
-- new request) may have been rotated by the server: sending it again would be a reuse and
-- revoke its family. It leaves the rotation, as does one refused; done() reports it spent.
local function drop(i)
   spent[#spent + 1] = origin[i]
   table.remove(tokens, i)
   table.remove(origin, i)
   if slot > #tokens then slot = 1 end
end

function request()
   if probe then
      probe = false
   else
      sent = sent + 1
      if scenario == "refresh" then
         if pending then drop(pending) end
         pending = slot
      end
   end
   local token = tokens[slot] or "none-left"  -- answered 400/401: counted as an error
   local method, path, body, headers = "POST", "/token", nil, {}
   if scenario == "cc" then
      body, headers.Authorization = "grant_type=client_credentials", auth
   elseif scenario == "refresh" then
      body = "grant_type=refresh_token&refresh_token=" .. form(token)
      headers.Authorization = auth
   elseif scenario == "userinfo" then
      method, path, headers.Authorization = "GET", "/userinfo", "Bearer " .. token
   elseif scenario == "introspect" then
      path, body, headers.Authorization = "/introspect", "token=" .. form(token), auth
   end
   if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
   -- Reconnect now and then, as bench/load.py does: the kernel hands each new connection
   -- to a worker at random, and a run must not hinge on one draw (round 8).
   if sent % every == 0 then headers.Connection = "close" end
   return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
   local good = status == 200
   if good and scenario == "introspect" then
      good = body:find('"active":%s*true') ~= nil
   elseif good and scenario == "refresh" then
      local fresh = body:match('"refresh_token":%s*"([^"]+)"')
      if fresh and pending then tokens[pending] = fresh else good = false end
   end
   if not good then
      bad = bad + 1
      if sample == "" then sample = (status .. " " .. body:sub(1, 160)):gsub("%c", " ") end
   end
   if scenario == "refresh" and pending and not good then
      drop(pending)  -- refused once, refused again: the next token now sits at slot
   elseif #tokens > 0 then
      slot = slot % #tokens + 1
   end
   pending = nil
end

-- Tab-separated lines for bench/wrk.py; latencies in microseconds. The tables fetched with
-- thread:get stay flat: wrk 4.1 copies nested ones wrongly (wg/wrk#399).
function done(summary, latency, requests)
   local e = summary.errors
   local out = {
      "requests\t" .. summary.requests, "duration_us\t" .. summary.duration,
      -- A timeout is a response that came too late: it is in summary.requests already.
      "socket_errors\t" .. (e.connect + e.read + e.write),
      "p50_us\t" .. latency:percentile(50), "p99_us\t" .. latency:percentile(99),
   }
   for _, thread in ipairs(threads) do
      out[#out + 1] = "bad\t" .. thread:get("bad")
      if thread:get("sample") ~= "" then out[#out + 1] = "sample\t" .. thread:get("sample") end
      local tokens, origin = thread:get("tokens"), thread:get("origin")
      for j = 1, #tokens do out[#out + 1] = "token\t" .. origin[j] .. "\t" .. tokens[j] end
      for _, index in ipairs(thread:get("spent")) do out[#out + 1] = "spent\t" .. index end
      -- Still in flight when the run stopped: it may have been rotated unseen, too.
      local pending = thread:get("pending")
      if pending then out[#out + 1] = "spent\t" .. origin[pending] end
   end
   io.write(table.concat(out, "\n") .. "\n")
end
