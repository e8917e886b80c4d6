export { MAX_PENDING_PUBLISHES, RedisBus } from './redis-bus';
export { REDIS_BUS_DEFAULTS } from './options';
export type { RedisBusOptions, ResolvedRedisBusOptions } from './options';
export type { RedisBusStats } from './stats';
export { DROP_REASONS } from './envelope';
export type { DropReason } from './envelope';
