"""The waiting line's Lua scripts: each is one Redis round trip and runs atomically."""

# Shared Lua helpers, prepended to every script.
PRELUDE = r"""
local function sale_state(sale, now)
  local lobby, opens, closes, manual = tonumber(sale[1]), tonumber(sale[2]), tonumber(sale[3]), sale[4]
  if not opens then return 'unknown' end
  if manual == 'closed' or now >= closes then return 'closed' end
  if manual == 'paused' or manual == 'open' then return manual end
  if now >= opens then return 'open' end
  if now >= lobby then return 'lobby' end
  return 'scheduled'
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

-- free places within the admission window, from a bucket's HMGET capacity, held, confirmed, rate, (5th), window
local function admissible(b)
  local capacity, held = tonumber(b[1]) or 0, tonumber(b[2]) or 0
  local free = capacity - held - (tonumber(b[3]) or 0)
  local room = (tonumber(b[6]) or capacity) - held
  if room < free then return room end
  return free
end

-- how long a waiting runner should wait before asking again: 1 s while a free place is theirs,
-- then longer the further the line's measured pace puts them from the head, at most 10 s
local function retry_after(ahead, free, rate)
  if ahead < free then return 1 end
  local beyond = ahead - free
  if rate <= 0 then
    if beyond < 50 then return 2 end
    return 10
  end
  local r = math.ceil(beyond / rate / 3)
  if r < 2 then r = 2 end
  if r > 10 then r = 10 end
  return r
end
"""

# KEYS: sale, who, bucket, line, lobby, seen, next_ok, joins, revoked, and only with proof of work: the proof's spent key
# ARGV: user, bucket id, now ms, ip, pow ms, min interval fraction, and with proof of work: how long to remember it (ms)
JOIN = PRELUDE + r"""
if redis.call('EXISTS', KEYS[9]) == 1 then return {'err', 'token_revoked'} end
if KEYS[10] and redis.call('EXISTS', KEYS[10]) == 1 then return {'err', 'bad_pow'} end
local user, bid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local sale = redis.call('HMGET', KEYS[1], 'lobby_ms', 'opens_ms', 'closes_ms', 'manual', 'shuffled')
local state = sale_state(sale, now)
if state == 'unknown' then return {'err', 'unknown_bucket'} end
if state ~= 'lobby' and state ~= 'open' then return {'err', 'sale_not_open', state} end
local current = redis.call('HGET', KEYS[2], user)
if current then
  local kind = string.sub(current, 1, 1)
  if kind == 'L' or kind == 'H' then return {'err', 'already_in_line', current} end
  if kind == 'R' then return {'err', 'already_registered', current} end
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
redis.call('HSET', KEYS[2], user, 'L|' .. bid .. '|' .. arrival)
redis.call('HSET', KEYS[6], user, now)
local free = admissible(b)
local retry = retry_after(ahead, free, tonumber(b[4]) or 0)
if in_lobby then retry = 5 end
redis.call('HSET', KEYS[7], user, now + math.floor(retry * 1000 * tonumber(ARGV[6])))
redis.call('XADD', KEYS[8], '*', 't', 'j', 'u', user, 'b', bid, 'a', arrival, 'l', in_lobby and '1' or '0',
  'ms', now, 'ip', ARGV[4], 'pow', ARGV[5])
-- a proof of work is good for one join
if KEYS[10] then redis.call('SET', KEYS[10], user, 'PX', ARGV[7]) end
return {'ok', arrival, ahead, retry, in_lobby and 1 or 0, state}
"""

# KEYS: who, seen, next_ok, revoked, sale, cadence
# ARGV: user, now ms, key prefix of the race ('m:{r1}:'), min interval fraction, enforce interval (1/0),
# a client's poll (1/0; absent = 1): a pushed stream's refresh marks the runner present but is not counted as a poll
# and leaves the poll interval alone
STATUS = PRELUDE + r"""
if redis.call('EXISTS', KEYS[4]) == 1 then return {'err', 'token_revoked'} end
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
-- the bot review's cadence counters: polls, and polls within 30 ms of retry_after_s or of the earliest allowed moment
-- (a script's timer; a browser's timer plus a mobile network's jitter rarely hits that window poll after poll)
local last = tonumber(redis.call('HGET', KEYS[2], user))
if poll then
  redis.call('HINCRBY', KEYS[6], user .. ':n', 1)
  if last and earliest and earliest > last then
    local gap, allowed = now - last, earliest - last
    if gap - allowed < 30 or math.abs(gap - allowed / tonumber(ARGV[4])) < 30 then
      redis.call('HINCRBY', KEYS[6], user .. ':r', 1)
    end
  end
end
redis.call('HSET', KEYS[2], user, now)
local f = split(current)
local kind, bid, arrival = f[1], f[2], f[3]
local bkey = prefix .. 'b:' .. bid
local b = redis.call('HMGET', bkey, 'capacity', 'held', 'confirmed', 'rate', 'name', 'window')
local retry, result
if kind == 'L' then
  local ahead = redis.call('ZRANK', prefix .. 'line:' .. bid, user)
  local in_lobby = 0
  if ahead then
    local shuffled = redis.call('HGET', KEYS[5], 'shuffled')
    if shuffled ~= '1' then ahead = ahead + redis.call('ZCARD', prefix .. 'lobby:' .. bid) end
  else
    ahead = redis.call('ZRANK', prefix .. 'lobby:' .. bid, user)
    if ahead then in_lobby = 1 else ahead = 0 end
  end
  local rate = tonumber(b[4]) or 0
  local free = admissible(b)
  retry = retry_after(ahead, free, rate)
  if in_lobby == 1 then retry = 5 end
  local eta = -1
  if ahead < free then eta = 0 elseif rate > 0 then eta = math.ceil((ahead - free + 1) / rate) end
  result = {'L', b[5] or '', arrival, ahead, retry, eta, in_lobby}
elseif kind == 'H' then
  retry = 5
  result = {'H', b[5] or '', arrival, f[4], f[5], f[6], retry}
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
redis.call('HSET', KEYS[1], ARGV[1], 'X|' .. f[2] .. '|' .. f[3] .. '|left')
redis.call('XADD', KEYS[4], '*', 't', 'x', 'u', ARGV[1], 'b', f[2], 'a', f[3], 's', 'left', 'ms', ARGV[2])
return {'left', current}
"""

# Moves up to n runners from the head of a line into the bucket's pending batch, skipping idle ones.
# KEYS: line, pending, who, seen, joins
# ARGV: n, now ms, idle ms, bucket id
POP = PRELUDE + r"""
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
    local current = redis.call('HGET', KEYS[3], user) or ('L|' .. bid .. '|0')
    local arrival = split(current)[3]
    local seen = tonumber(redis.call('HGET', KEYS[4], user)) or 0
    if now - seen > idle then
      skipped = skipped + 1
      redis.call('HSET', KEYS[3], user, 'X|' .. bid .. '|' .. arrival .. '|skipped')
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
# KEYS: who, pending, line, bucket
# ARGV: rate, then n admitted as (user, 'H|...' value) pairs, then '--', then users to put back
FINISH = r"""
local i = 2
redis.call('HSET', KEYS[4], 'rate', ARGV[1])
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
# value to set when the runner has no place at all ('' = leave it)
TRANSITION = PRELUDE + r"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[6]) return 1 end
  return 0
end
local f = split(current)
if not string.find(ARGV[2], f[1], 1, true) then return 0 end
if ARGV[5] ~= '' and f[4] ~= ARGV[5] then return 0 end
local value = ARGV[3] .. '|' .. f[2] .. '|' .. f[3]
if ARGV[4] ~= '' then value = value .. '|' .. ARGV[4] end
redis.call('HSET', KEYS[1], ARGV[1], value)
return 1
"""

# Gives a runner a place that came to them another way (an official transfer), unless they already wait, hold a place
# or are registered in the race: then nothing changes and 0 comes back.
# KEYS: who ; ARGV: user, value
CLAIM = r"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local kind = string.sub(current, 1, 1)
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
  if current and string.sub(current, 1, 1) == 'L' then
    redis.call('ZADD', KEYS[1], i - n - 1, user)
  end
  redis.call('ZREM', KEYS[2], user)
end
return n
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
    if current and string.sub(current, 1, 1) == 'L' then
      local arrival = split(current)[3]
      redis.call('HSET', KEYS[4], user, 'X|' .. ARGV[1] .. '|' .. arrival .. '|sold_out')
      redis.call('XADD', KEYS[5], '*', 't', 'x', 'u', user, 'b', ARGV[1], 'a', arrival, 's', 'sold_out', 'ms', ARGV[2])
      ended[#ended + 1] = user
    end
  end
  redis.call('DEL', key)
end
return ended
"""
