"""The waiting line's Lua scripts: each is one Redis round trip and runs atomically.

Three rules are Python's and copied here because a script must decide inside Redis: the sale state
(Race.sale_state in marathon.blueprints.races.models), the runner's place (marathon.blueprints.lines.place) and the
free places within the admission window (marathon.blueprints.lines.rules.admissible). The Python side is the
reference; tests/test_rule_mirrors.py holds each copy equal to it.
"""

# Shared Lua helpers, prepended to every script.
PRELUDE = r"""
-- copy of Race.sale_state (marathon.blueprints.races.models), the reference; sale = HMGET lobby_ms, opens_ms,
-- closes_ms, manual ('' when the clock rules)
local function sale_state(sale, now)
  local lobby, opens, closes, manual = tonumber(sale[1]), tonumber(sale[2]), tonumber(sale[3]), sale[4]
  if not opens then return 'unknown' end
  if manual == 'closed' or now >= closes then return 'closed' end
  if manual == 'paused' or manual == 'open' then return manual end
  if now >= opens then return 'open' end
  if now >= lobby then return 'lobby' end
  return 'scheduled'
end

-- the runner's place: copy of marathon.blueprints.lines.place (Place.encode / Place.decode), the reference.
-- place(kind, bucket, arrival[, last]) encodes; split(value) decodes to {kind, bucket, arrival, ...}
local function place(kind, bid, arrival, last)
  local value = kind .. '|' .. bid .. '|' .. arrival
  if last and last ~= '' then value = value .. '|' .. last end
  return value
end

-- the lean per-address limit (RATELIMIT_JOIN_PER_IP, RATELIMIT_STATUS_PER_IP): a fixed window counted in the same
-- round trip as the join or status itself; nil while under the limit, else the ms until the window ends
local function over_limit(key, limit, window)
  if limit <= 0 then return nil end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, window) end
  if n > limit then
    local left = redis.call('PTTL', key)
    if left < 0 then left = window end
    return left
  end
  return nil
end

-- held(...) encodes a HELD place (Place.held(...).encode())
local function held(bid, arrival, hold, expires, amount, told)
  return table.concat({'H', bid, arrival, hold, expires, amount, told}, '|')
end

local function split(value)
  local parts, start = {}, 1
  while true do
    local sep = string.find(value, '|', start, true)
    if not sep then
      parts[#parts + 1] = string.sub(value, start)
      return parts
    end
    parts[#parts + 1] = string.sub(value, start, sep - 1)
    start = sep + 1
  end
end

-- copy of marathon.blueprints.lines.rules.admissible, the reference: free places within the admission window, from
-- a bucket's HMGET capacity, held, confirmed, rate, (5th), window
local function admissible(b)
  local capacity, held = tonumber(b[1]) or 0, tonumber(b[2]) or 0
  local free = capacity - held - (tonumber(b[3]) or 0)
  local room = (tonumber(b[6]) or capacity) - held
  if room < free then return room end
  return free
end

-- a waiting runner's ETA in seconds: 0 while a free place within the window is theirs, -1 when even every place not
-- yet paid would not reach them; otherwise from the line's measured admission rate (before any, the window's pace)
local function eta_of(ahead, b)
  local room = admissible(b)
  if ahead < room then return 0 end
  local capacity, confirmed = tonumber(b[1]) or 0, tonumber(b[3]) or 0
  if ahead >= capacity - confirmed then return -1 end
  local rate = tonumber(b[4]) or 0
  if rate <= 0 then rate = math.max(tonumber(b[6]) or capacity, 1) / 5 end
  return math.ceil((ahead - room + 1) / rate)
end

-- how long a waiting runner should wait before asking again: 1 s while a place within the window is theirs, then
-- about a fifth of the ETA, 2 to 30 s (and 30 s for a runner whom only cancellations can still reach)
local function retry_after(eta)
  if eta < 0 then return 30 end
  if eta == 0 then return 1 end
  local r = math.ceil(eta / 5)
  if r < 2 then r = 2 end
  if r > 30 then r = 30 end
  return r
end

-- how long a lobby runner should wait: until the opening (the shuffle places them then), 30 s at most
local function lobby_retry(sale, now)
  local r = math.ceil(((tonumber(sale[2]) or now) - now) / 1000)
  if r < 1 then r = 1 end
  if r > 30 then r = 30 end
  return r
end
"""

# KEYS: sale, who, bucket, line, lobby, seen, next_ok, joins, revoked, the address's counter, and only with proof of
# work: the proof's spent key
# ARGV: user, bucket id, now ms, ip, pow ms, min interval fraction, per-address limit (0: off), its window (ms), and
# with proof of work: how long to remember it (ms)
JOIN = PRELUDE + r"""
if redis.call('EXISTS', KEYS[9]) == 1 then return {'err', 'token_revoked'} end
local limited = over_limit(KEYS[10], tonumber(ARGV[7]), tonumber(ARGV[8]))
if limited then return {'err', 'rate_limited', limited, ARGV[7]} end
if KEYS[11] and redis.call('EXISTS', KEYS[11]) == 1 then return {'err', 'bad_pow'} end
local user, bid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local sale = redis.call('HMGET', KEYS[1], 'lobby_ms', 'opens_ms', 'closes_ms', 'manual', 'shuffled')
local state = sale_state(sale, now)
if state == 'unknown' then return {'err', 'unknown_bucket'} end
if state ~= 'lobby' and state ~= 'open' then return {'err', 'sale_not_open', state} end
local current = redis.call('HGET', KEYS[2], user)
if current then
  local kind = string.sub(current, 1, 1)  -- the place's kind (its first field)
  if kind == 'L' or kind == 'H' then return {'err', 'already_in_line', current} end
  if kind == 'R' then return {'err', 'already_registered', current} end
  -- a runner who gave a bib of this race away (registrations.transfers) may not queue for another
  if kind == 'X' and string.sub(current, -12) == '|transferred' then return {'err', 'transferred_away'} end
end
local b = redis.call('HMGET', KEYS[3], 'capacity', 'held', 'confirmed', 'rate', 'soldout', 'window')
if not b[1] then return {'err', 'unknown_bucket'} end
if b[5] == '1' then return {'err', 'sold_out'} end
local arrival = redis.call('HINCRBY', KEYS[3], 'seq', 1)
local in_lobby = (state == 'lobby' and sale[5] ~= '1')
local ahead
if in_lobby then
  redis.call('ZADD', KEYS[5], arrival, user)
  ahead = redis.call('ZCARD', KEYS[5]) - 1
else
  redis.call('ZADD', KEYS[4], arrival, user)
  ahead = redis.call('ZRANK', KEYS[4], user)
  if sale[5] ~= '1' then ahead = ahead + redis.call('ZCARD', KEYS[5]) end
end
redis.call('HSET', KEYS[2], user, place('L', bid, arrival))
redis.call('HSET', KEYS[6], user, now)
local retry = retry_after(eta_of(ahead, b))
if in_lobby then retry = lobby_retry(sale, now) end
redis.call('HSET', KEYS[7], user, now + math.floor(retry * 1000 * tonumber(ARGV[6])))
redis.call('XADD', KEYS[8], '*', 't', 'j', 'u', user, 'b', bid, 'a', arrival, 'l', in_lobby and '1' or '0',
  'ms', now, 'ip', ARGV[4], 'pow', ARGV[5])
-- a proof of work is good for one join
if KEYS[11] then redis.call('SET', KEYS[11], user, 'PX', ARGV[9]) end
return {'ok', arrival, ahead, retry, in_lobby and 1 or 0, state}
"""

# KEYS: who, seen, next_ok, revoked, sale, cadence, told, the address's counter
# ARGV: user, now ms (when the request reached the server), key prefix of the race ('m:{r1}:'), min interval fraction,
# enforce interval (1/0), a client's poll (1/0): a pushed stream's refresh (0) marks the runner present but is not
# counted as a poll for the bot review and leaves the poll interval alone, per-address limit (0: off), its window (ms), the
# moment of the answer (ms; an admitted runner's hold clock starts then)
# An admitted runner's hold clock starts here, when they are first told: the place's expiry comes down to now + the
# race's hold_s, and the told stream tells the workers to shorten the hold in the database too.
STATUS = PRELUDE + r"""
if redis.call('EXISTS', KEYS[4]) == 1 then return {'err', 'token_revoked'} end
local limited = over_limit(KEYS[8], tonumber(ARGV[7]), tonumber(ARGV[8]))
if limited then return {'err', 'rate_limited', limited, ARGV[7]} end
local user, now, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local poll = ARGV[6] ~= '0'
local current = redis.call('HGET', KEYS[1], user)
if not current then
  -- a Redis that lost the race answers 'come back shortly' (503), not 'you are not in line'
  if redis.call('EXISTS', KEYS[5]) == 0 then return {'err', 'unknown_bucket'} end
  return {'none'}
end
local earliest = tonumber(redis.call('HGET', KEYS[3], user))
if ARGV[5] == '1' and earliest and now < earliest then
  redis.call('HINCRBY', KEYS[6], user .. ':e', 1)
  return {'err', 'too_soon', earliest - now}
end
local last = tonumber(redis.call('HGET', KEYS[2], user))
if poll then
  -- the bot review's cadence counters: polls, and polls within 30 ms of retry_after_s or of the earliest allowed
  -- moment (a script's timer; a browser's timer plus a mobile network's jitter rarely hits that window poll after poll)
  redis.call('HINCRBY', KEYS[6], user .. ':n', 1)
  if last and earliest and earliest > last then
    local gap, allowed = now - last, earliest - last
    if gap - allowed < 30 or math.abs(gap - allowed / tonumber(ARGV[4])) < 30 then
      redis.call('HINCRBY', KEYS[6], user .. ':r', 1)
    end
  end
end
if not last or now > last then redis.call('HSET', KEYS[2], user, now) end
local f = split(current)
local kind, bid, arrival = f[1], f[2], f[3]
local bkey = prefix .. 'b:' .. bid
local b = redis.call('HMGET', bkey, 'capacity', 'held', 'confirmed', 'rate', 'name', 'window')
local retry, result
if kind == 'L' then
  local ahead = redis.call('ZRANK', prefix .. 'line:' .. bid, user)
  local in_lobby = 0
  local sale = redis.call('HMGET', KEYS[5], 'lobby_ms', 'opens_ms', 'shuffled')
  if ahead then
    if sale[3] ~= '1' then ahead = ahead + redis.call('ZCARD', prefix .. 'lobby:' .. bid) end
  else
    ahead = redis.call('ZRANK', prefix .. 'lobby:' .. bid, user)
    if ahead then in_lobby = 1 else ahead = 0 end
  end
  local eta = eta_of(ahead, b)
  retry = retry_after(eta)
  if in_lobby == 1 then retry = lobby_retry(sale, now) end
  result = {'L', b[5] or '', arrival, ahead, retry, eta, in_lobby}
elseif kind == 'H' then
  local expires, told = tonumber(f[5]), tonumber(f[7]) or 0
  local hold_s = tonumber(redis.call('HGET', KEYS[5], 'hold_s'))
  -- a race being rebuilt (its sale hash not back yet) tells nobody: without hold_s the hold would end now
  if told == 0 and hold_s then
    -- told now, as this answer leaves (a poll that waited inside the server tells its runner only now)
    local answered = tonumber(ARGV[9]) or now
    local by = answered + 1000 * hold_s
    if by < expires then expires = by end
    redis.call('HSET', KEYS[1], user, held(bid, arrival, f[4], expires, f[6], answered))
    redis.call('XADD', KEYS[7], '*', 'h', f[4], 'e', expires)
  end
  retry = 5
  result = {'H', b[5] or '', arrival, f[4], expires, f[6], retry}
elseif kind == 'R' then
  retry = 30
  result = {'R', b[5] or '', arrival, f[4], retry}
else
  retry = 10
  result = {'X', b[5] or '', arrival, f[4], retry}
end
if poll then redis.call('HSET', KEYS[3], user, now + math.floor(retry * 1000 * tonumber(ARGV[4]))) end
return result
"""

# KEYS: who, line, lobby, joins
# ARGV: user, now ms
LEAVE = PRELUDE + r"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return {'none'} end
local f = split(current)
if f[1] ~= 'L' then return {f[1], current} end
local removed = redis.call('ZREM', KEYS[2], ARGV[1]) + redis.call('ZREM', KEYS[3], ARGV[1])
if removed == 0 then return {'busy', current} end
redis.call('HSET', KEYS[1], ARGV[1], place('X', f[2], f[3], 'left'))
redis.call('XADD', KEYS[4], '*', 't', 'x', 'u', ARGV[1], 'b', f[2], 'a', f[3], 's', 'left', 'ms', ARGV[2])
return {'left', current}
"""

# Moves up to n runners from the head of a line into the bucket's pending batch, skipping idle ones: a runner is idle
# when their last poll (or their open event stream) is more than `idle` ms older than the moment they were told to come
# back by, so a runner told to wait 30 s is not skipped for waiting as told.
# Only for the bucket's current lease (marathon.admission.lease): otherwise {'lost'}.
# KEYS: line, pending, who, seen, joins, next_ok, lease
# ARGV: n, now ms, idle ms, bucket id, lease token
POP = PRELUDE + r"""
if redis.call('GET', KEYS[7]) ~= ARGV[5] then return {'lost'} end
local n, now, idle, bid = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local popped, skipped = {}, 0
local scanned = 0
while #popped < 2 * n and scanned < 4 * n + 100 do
  local want = n - #popped / 2
  local head = redis.call('ZRANGE', KEYS[1], 0, want - 1, 'WITHSCORES')
  if #head == 0 then break end
  for i = 1, #head, 2 do
    local user, score = head[i], head[i + 1]
    redis.call('ZREM', KEYS[1], user)
    scanned = scanned + 1
    local current = redis.call('HGET', KEYS[3], user) or place('L', bid, 0)
    local arrival = split(current)[3]
    local seen = tonumber(redis.call('HGET', KEYS[4], user)) or 0
    local due = tonumber(redis.call('HGET', KEYS[6], user)) or 0
    if due < seen then due = seen end
    if now - due > idle then
      skipped = skipped + 1
      redis.call('HSET', KEYS[3], user, place('X', bid, arrival, 'skipped'))
      redis.call('XADD', KEYS[5], '*', 't', 'x', 'u', user, 'b', bid, 'a', arrival, 's', 'skipped', 'ms', now)
    else
      redis.call('HSET', KEYS[2], user, arrival .. '|' .. score)
      popped[#popped + 1] = user
      popped[#popped + 1] = arrival
    end
  end
end
popped[#popped + 1] = skipped
return popped
"""

# Ends a popped batch: admitted runners get their hold, the rest go back to the head in their old order.
# Only for the bucket's current lease (marathon.admission.lease): otherwise 0, and a newer owner settles the batch.
# KEYS: who, pending, line, bucket, lease
# ARGV: lease token, rate, then n admitted as (user, encoded Place) pairs, then '--', then users to put back
FINISH = r"""
if redis.call('GET', KEYS[5]) ~= ARGV[1] then return 0 end
local i = 3
redis.call('HSET', KEYS[4], 'rate', ARGV[2])
while ARGV[i] and ARGV[i] ~= '--' do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HDEL', KEYS[2], ARGV[i])
  i = i + 2
end
i = i + 1
while ARGV[i] do
  local entry = redis.call('HGET', KEYS[2], ARGV[i])
  if entry then
    local sep = string.find(entry, '|', 1, true)
    redis.call('ZADD', KEYS[3], tonumber(string.sub(entry, sep + 1)), ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
  i = i + 1
end
return 1
"""

# Moves a runner's place from one kind to another, keeping bucket and arrival.
# KEYS: who ; ARGV: user, kinds allowed now (e.g. 'H', 'LH'), new kind, tail fields, hold id that must match ('' = any),
# value to set when the runner has no place at all ('' = leave it); with a second key and the moment (ARGV 7, ms): a
# paid hold records how long its runner took from being told of it to paying, the admission pacing's signal
TRANSITION = PRELUDE + r"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[6]) return 1 end
  return 0
end
local f = split(current)
if not string.find(ARGV[2], f[1], 1, true) then return 0 end
if ARGV[5] ~= '' and f[4] ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], place(ARGV[3], f[2], f[3], ARGV[4]))
-- a held place's 7th field is when its runner was told of it (0: not yet)
if KEYS[2] and f[1] == 'H' and (tonumber(f[7]) or 0) > 0 then
  redis.call('LPUSH', KEYS[2], tonumber(ARGV[7]) - tonumber(f[7]))
  redis.call('LTRIM', KEYS[2], 0, 999)
end
return 1
"""

# Gives a runner a place that came to them another way (an official transfer), unless they already wait, hold a place
# or are registered in the race: then nothing changes and 0 comes back.
# KEYS: who ; ARGV: user, value
CLAIM = r"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local kind = string.sub(current, 1, 1)  -- the place's kind (its first field)
  if kind == 'L' or kind == 'H' or kind == 'R' then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# The opening: no more lobby joins; returns each lobby's runners and arrivals for the shuffle.
# KEYS: sale, then one lobby key per bucket
CLOSE_LOBBY = r"""
redis.call('HSET', KEYS[1], 'shuffled', '1')
local out = {}
for i = 2, #KEYS do
  out[#out + 1] = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
end
return out
"""

# Places a shuffled lobby at the head of its line (scores below zero), skipping runners who left meanwhile.
# KEYS: line, lobby, who ; ARGV: users in shuffled order
PLACE_LOBBY = r"""
local n = #ARGV
for i, user in ipairs(ARGV) do
  local current = redis.call('HGET', KEYS[3], user)
  if current and string.sub(current, 1, 1) == 'L' then  -- a waiting place (its kind, the first field)
    redis.call('ZADD', KEYS[1], i - n - 1, user)
  end
  redis.call('ZREM', KEYS[2], user)
end
return n
"""

# Extends a lease only if this holder still has it; 0 when a newer owner has it.
# KEYS: lease ; ARGV: token, time to live (ms)
RENEW = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# Releases a lock only if this holder still has it.
# KEYS: lock ; ARGV: token
UNLOCK = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# A bucket with every place confirmed: everyone still waiting gets sold_out; returns their user ids.
# KEYS: bucket, line, lobby, who, joins ; ARGV: bucket id, now ms
SELL_OUT = PRELUDE + r"""
redis.call('HSET', KEYS[1], 'soldout', '1')
local ended = {}
for _, key in ipairs({KEYS[2], KEYS[3]}) do
  local users = redis.call('ZRANGE', key, 0, -1)
  for _, user in ipairs(users) do
    local current = redis.call('HGET', KEYS[4], user)
    if current and string.sub(current, 1, 1) == 'L' then  -- a waiting place (its kind, the first field)
      local arrival = split(current)[3]
      redis.call('HSET', KEYS[4], user, place('X', ARGV[1], arrival, 'sold_out'))
      redis.call('XADD', KEYS[5], '*', 't', 'x', 'u', user, 'b', ARGV[1], 'a', arrival, 's', 'sold_out', 'ms', ARGV[2])
      ended[#ended + 1] = user
    end
  end
  redis.call('DEL', key)
end
return ended
"""
