/**
 * The Lua scripts the bus runs (ioredis defineCommand: EVALSHA, EVAL once
 * after a NOSCRIPT). Each runs atomically in Redis, so two nodes cannot both
 * take the last slot or both claim a key. Time is Redis's clock (TIME), never
 * a node's, so nodes with skewed clocks agree on who is live.
 *
 * Liveness: `{S}:nodes` scores each node with the time its heartbeat expires;
 * counts are summed over the nodes whose score is in the future. A script
 * names the keys of other nodes' slot hashes itself (all under the same hash
 * tag, so in one Redis Cluster slot).
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Keeps a key's expiry at least `ttl` from now, never shortens it (PEXPIRE GT needs Redis 7). */
const EXTEND = `local function extend(key, ttl)
  local left = redis.call('PTTL', key)
  if left == -1 or (left >= 0 and left < ttl) then redis.call('PEXPIRE', key, ttl) end
end
`;

export interface BusScript {
  readonly lua: string;
  /** KEYS count; undefined: the first argument says how many. */
  readonly numberOfKeys?: number;
}

/**
 * KEYS: nodes, this node's slots hash. ARGV: node, ttl.
 * The heartbeat: this node live until now + ttl, its slots hash kept as long,
 * dead nodes pruned. Returns 1 if the node was still live (its counts are in
 * Redis), 0 if it had expired (the caller writes its counts back).
 */
export const BEAT: BusScript = {
  numberOfKeys: 2,
  lua: `${NOW}
local ttl = tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local wasLive = score and tonumber(score) > now
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
if wasLive then return 1 end
return 0`,
};

/**
 * KEYS: nodes, this node's slots hash. ARGV: node, address key, maxClients,
 * maxClientsPerIp, ttl, slots key prefix.
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

/**
 * KEYS: the set's index, then one entry key per claim. ARGV: node, ttl, then
 * (key, value) per claim. Claims each key free or already this node's (the
 * value replaced, the expiry renewed); the heartbeat and the rejoin use it too.
 * Returns per key '' (held by this node now) or the holder's node id.
 */
export const CLAIM: BusScript = {
  lua: `${NOW}${EXTEND}
local mine = ARGV[1] .. '\\n'
local ttl = tonumber(ARGV[2])
local out = {}
for i = 2, #KEYS do
  local current = redis.call('GET', KEYS[i])
  if not current or string.sub(current, 1, #mine) == mine then
    redis.call('SET', KEYS[i], mine .. ARGV[2 * i], 'PX', ttl)
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[2 * i - 1])
    out[#out + 1] = ''
  else
    local newline = string.find(current, '\\n', 1, true)
    out[#out + 1] = newline and string.sub(current, 1, newline - 1) or '?'
  end
end
extend(KEYS[1], ttl)
return out`,
};

/** KEYS: the entry key, the set's index. ARGV: node, key. Deletes the entry only if this node holds it. */
export const RELEASE_ENTRY: BusScript = {
  numberOfKeys: 2,
  lua: `local current = redis.call('GET', KEYS[1])
local mine = ARGV[1] .. '\\n'
if current and string.sub(current, 1, #mine) == mine then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0`,
};

/**
 * KEYS: the set's index. ARGV: the set's entry key prefix, the most entries.
 * Prunes expired index members, returns (key, "node\nvalue") pairs of the live ones.
 */
export const ENTRIES: BusScript = {
  numberOfKeys: 1,
  lua: `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, key in ipairs(keys) do
  local entry = redis.call('GET', ARGV[1] .. key)
  if entry then
    out[#out + 1] = key
    out[#out + 1] = entry
  end
end
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
