/**
 * The Lua scripts the bus runs (ioredis defineCommand: EVALSHA, EVAL once
 * after a NOSCRIPT). Each runs atomically in Redis, so two nodes cannot both
 * take the last slot or both claim a key. Time is Redis's clock (TIME), never
 * a node's, so nodes with skewed clocks agree on who is live.
 *
 * Liveness: `{S}:nodes` scores each incarnation of a node (`<node id>#<random>`,
 * a new one each time the node writes its state back) with the time its
 * heartbeat expires; counts are summed, and presence entries count, only for
 * the incarnations whose score is in the future. A write-back removes the
 * previous incarnation, so whatever the node did not write again (a slot or
 * an entry released while Redis was unreachable) is gone with it. A script
 * names the keys of other nodes' slot hashes itself (all under the same hash
 * tag, so in one Redis Cluster slot).
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Keeps a key's expiry at least `ttl` from now, never shortens it (nodes may differ in presenceTtl; PEXPIRE GT needs Redis 7). */
const EXTEND = `local function extend(key, ttl)
  local left = redis.call('PTTL', key)
  if left == -1 or (left >= 0 and left < ttl) then redis.call('PEXPIRE', key, ttl) end
end
`;

export interface BusScript {
  readonly lua: string;
  /** How many of the arguments are keys; -1: the first argument says how many. */
  readonly numberOfKeys: number;
}

/**
 * KEYS: nodes, this incarnation's slots hash, then the entries hash of each
 * set this node holds entries in. ARGV: incarnation, ttl.
 * The heartbeat: this node live until now + ttl (and with it its presence
 * entries), its slots hash and sets kept as long, dead nodes pruned. Returns
 * 1 if the node was still live (its state is in Redis), 0 if it had expired
 * (the caller writes its state back).
 */
export const BEAT: BusScript = {
  numberOfKeys: -1,
  lua: `${NOW}${EXTEND}
local ttl = tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local wasLive = score and tonumber(score) > now
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
extend(KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
for i = 3, #KEYS do extend(KEYS[i], ttl) end
if wasLive then return 1 end
return 0`,
};

/**
 * KEYS: nodes, this incarnation's slots hash. ARGV: incarnation, address
 * key, maxClients, maxClientsPerIp, ttl, slots key prefix.
 * Sums the live nodes' counts, refuses over a limit, else counts the slot for
 * this node. 'stale' when this node is not live (its counts may have expired:
 * the caller writes them back first).
 */
export const RESERVE: BusScript = {
  numberOfKeys: 2,
  lua: `${NOW}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then return 'stale' end
local maxClients, maxPerIp = tonumber(ARGV[3]), tonumber(ARGV[4])
if maxClients > 0 or maxPerIp > 0 then
  local total, fromKey = 0, 0
  local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
  for _, node in ipairs(live) do
    local counts = redis.call('HMGET', ARGV[6] .. node, '*', ARGV[2])
    total = total + (tonumber(counts[1]) or 0)
    fromKey = fromKey + (tonumber(counts[2]) or 0)
  end
  if maxClients > 0 and total >= maxClients then return 'maxClients' end
  if maxPerIp > 0 and fromKey >= maxPerIp then return 'perIp' end
end
redis.call('HINCRBY', KEYS[2], '*', 1)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 'ok'`,
};

/** KEYS: this node's slots hash. ARGV: address key. Gives one slot back; a count never stays at or below 0. */
export const RELEASE_SLOT: BusScript = {
  numberOfKeys: 1,
  lua: `local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
local total = redis.call('HINCRBY', KEYS[1], '*', -1)
if total <= 0 then redis.call('HDEL', KEYS[1], '*') end
return total`,
};

/** KEYS: nodes. ARGV: slots key prefix. The clients of every live node. */
export const COUNT: BusScript = {
  numberOfKeys: 1,
  lua: `${NOW}
local total = 0
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  total = total + (tonumber(redis.call('HGET', ARGV[1] .. node, '*')) or 0)
end
return total`,
};

/** A node is live while its heartbeat score is in the future; looked up once per node per call. */
const LIVE = `local liveCache = {}
local function live(nodes, node, now)
  local known = liveCache[node]
  if known == nil then
    local score = redis.call('ZSCORE', nodes, node)
    known = score ~= false and tonumber(score) > now
    liveCache[node] = known
  end
  return known
end
local function holderOf(entry)
  local newline = string.find(entry, '\\n', 1, true)
  if newline then return string.sub(entry, 1, newline - 1) end
  return ''
end
`;

/** An incarnation is `<node id>#<random>`: a node's id is what comes before the last '#'. */
const NODE_OF = `local function nodeOf(incarnation)
  return string.match(incarnation, '^(.*)#') or incarnation
end
`;

/**
 * KEYS: the set's entries hash, nodes. ARGV: incarnation, ttl, then (key,
 * value) per claim. An entry lives as long as the incarnation that wrote it:
 * a key is free when absent, or held by an incarnation that is not live.
 * Claims each key free or already this node's (any incarnation of it: the
 * value replaced). Returns per key '' (held by this incarnation now) or the
 * holder's incarnation; 'stale' when this incarnation is not live (the caller
 * writes its state back first).
 */
export const CLAIM: BusScript = {
  numberOfKeys: 2,
  lua: `${NOW}${EXTEND}${LIVE}${NODE_OF}
if not live(KEYS[2], ARGV[1], now) then return 'stale' end
local me = nodeOf(ARGV[1])
local out = {}
for i = 3, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local holder = current and holderOf(current)
  if not current or nodeOf(holder) == me or not live(KEYS[2], holder, now) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1] .. '\\n' .. ARGV[i + 1])
    out[#out + 1] = ''
  else
    out[#out + 1] = holder
  end
end
extend(KEYS[1], tonumber(ARGV[2]))
return out`,
};

/** KEYS: the set's entries hash. ARGV: node id, key. Deletes the entry only if this node (any incarnation) holds it. */
export const RELEASE_ENTRY: BusScript = {
  numberOfKeys: 1,
  lua: `${LIVE}${NODE_OF}
local current = redis.call('HGET', KEYS[1], ARGV[2])
if current and nodeOf(holderOf(current)) == ARGV[1] then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return 1
end
return 0`,
};

/**
 * KEYS: the set's entries hash, nodes. ARGV: the most entries.
 * Returns (key, "node\\nvalue") pairs of the entries of live nodes, HSCAN
 * 1000 at a time; drops the entries of dead nodes it meets (at most 1000 a
 * call), so a set cleans itself as it is read.
 */
export const ENTRIES: BusScript = {
  numberOfKeys: 2,
  lua: `${NOW}${LIVE}
local limit = tonumber(ARGV[1])
local out, dead = {}, {}
local cursor = '0'
repeat
  local page = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 1000)
  cursor = page[1]
  local fields = page[2]
  for i = 1, #fields, 2 do
    if live(KEYS[2], holderOf(fields[i + 1]), now) then
      if #out < limit * 2 then
        out[#out + 1] = fields[i]
        out[#out + 1] = fields[i + 1]
      end
    elseif #dead < 1000 then
      dead[#dead + 1] = fields[i]
    end
  end
until cursor == '0' or #out >= limit * 2
if #dead > 0 then redis.call('HDEL', KEYS[1], unpack(dead)) end
return out`,
};

export const SCRIPTS = {
  icsBusBeat: BEAT,
  icsBusReserve: RESERVE,
  icsBusReleaseSlot: RELEASE_SLOT,
  icsBusCount: COUNT,
  icsBusClaim: CLAIM,
  icsBusReleaseEntry: RELEASE_ENTRY,
  icsBusEntries: ENTRIES,
} as const;
