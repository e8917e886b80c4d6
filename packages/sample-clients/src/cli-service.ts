import cluster from 'node:cluster';
import type * as Cluster from '@ics-ts/cluster';
import type * as RedisBusPackage from '@ics-ts/redis-bus';
import type { RedisBusOptions } from '@ics-ts/redis-bus';
import type { ServiceBus, WSocketServerOptions } from '@ics-ts/wsocket-server';
import { ConfigError, ServerConfig } from './config';

/**
 * The resolved server options the primary hands its workers, as JSON in the
 * environment: free ports picked for a `--port 0` host table and generated
 * development certificates must be the same in every worker (the workers
 * share the primary's listening sockets by address and port), so they are
 * settled once, in the primary.
 */
export const WORKER_OPTIONS_ENV = 'ICS_TS_SERVER_OPTIONS';

/** Whether this process is the primary of a `workers` config: it supervises, it does not serve. */
export function supervisesWorkers(config: ServerConfig): boolean {
  return config.workers !== undefined && cluster.isPrimary;
}

/** In a worker of the CLI: the options its primary settled; undefined elsewhere. */
export function optionsFromPrimary(): WSocketServerOptions | undefined {
  const text = cluster.isWorker ? process.env[WORKER_OPTIONS_ENV] : undefined;
  return text === undefined ? undefined : (JSON.parse(text) as WSocketServerOptions);
}

/**
 * The bus the config asks for: Redis when it names one (workers then each
 * join Redis as a node of their own, so several machines and their workers
 * form one service), the primary's ServiceHub in a worker, else none (the
 * server's own LocalBus). A bad `redis` value is the config's error.
 */
export function serviceBus(config: ServerConfig, where: string): ServiceBus | undefined {
  if (config.redis !== undefined) {
    const options: RedisBusOptions = typeof config.redis === 'string' ? { url: config.redis } : config.redis;
    try {
      return new (loadRedisBus().RedisBus)(options);
    } catch (error) {
      throw new ConfigError(`${where}: option redis: ${(error as Error).message}`);
    }
  }
  return cluster.isWorker ? new (loadCluster().ClusterBus)() : undefined;
}

/*
 * The cluster and Redis packages (ioredis with them) are loaded only by a
 * config that uses them: a one-process server does not pay their load time
 * and memory at every start.
 */
export function loadCluster(): typeof Cluster {
  return require('@ics-ts/cluster') as typeof Cluster;
}

function loadRedisBus(): typeof RedisBusPackage {
  return require('@ics-ts/redis-bus') as typeof RedisBusPackage;
}

/** What the CLI's log says of the bus: each change of its status, with the reason. */
export function describeBusStatus(bus: ServiceBus, status: string, reason: string): string {
  return `service bus (${bus.kind}) ${status}${reason ? `: ${reason}` : ''}`;
}
