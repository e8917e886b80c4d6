import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { ClientConstructor } from './client-registry';
import { ConnectionInfo } from './connection-info';
import type { TWSocketClient } from './wsocket-client';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * A client class that lists what its constructor takes, for code without
 * decorator metadata (plain JavaScript, standard decorators):
 * `static inject = [ConnectionInfo, ChatRoom]`.
 */
export interface InjectList {
  inject?: readonly InjectionToken<unknown>[];
}

/**
 * Makes the client object for a connection through tsyringe: in the server's
 * container, where ConnectionInfo is a factory answering with the connection
 * being made (the resolve is synchronous), or in a child container per
 * connection with `connectionContainer`. A class with `static inject` gets
 * those tokens resolved and passed in order.
 */
export class ClientFactory {
  /** The connection whose client class is being resolved, for ConnectionInfo injection. */
  private making: ConnectionInfo | undefined;

  constructor(
    private readonly container: DependencyContainer,
    private readonly perConnection: boolean,
    private readonly where: string,
  ) {
    container.register(ConnectionInfo, { useFactory: () => this.currentInfo() });
  }

  create<C extends TWSocketClient>(cls: ClientConstructor<C>, info: ConnectionInfo): C {
    let container = this.container;
    if (this.perConnection) {
      container = container.createChildContainer();
      container.register(ConnectionInfo, { useValue: info });
    }
    const outer = this.making;
    this.making = info;
    try {
      const tokens = (cls as InjectList).inject;
      if (tokens) return new cls(...tokens.map((token) => container.resolve(token)));
      return container.resolve(cls);
    } finally {
      this.making = outer;
    }
  }

  private currentInfo(): ConnectionInfo {
    if (this.making) return this.making;
    throw icsError(Error, ICS_ERR.NOT_IN_CLIENT_CREATION,
      `${this.where}: ConnectionInfo can only be injected while the server creates a client (into the client class and what it resolves then)`,
    );
  }
}

/**
 * A client class whose constructor takes parameters needs a way to say which:
 * decorator metadata (tsyringe's @injectable() or @clientClass(), compiled with
 * emitDecoratorMetadata), `static inject`, or a registration in the container.
 * Without one, every connection would fail with tsyringe's "TypeInfo not
 * known": say it once, up front, with what to add.
 */
export function injectionProblem(cls: ClientConstructor, container: DependencyContainer): string | undefined {
  if (cls.length === 0) return undefined;
  const tokens = (cls as InjectList).inject;
  if (tokens !== undefined) {
    if (!Array.isArray(tokens)) return `${cls.name}.inject must be an array of injection tokens`;
    if (tokens.length < cls.length) {
      return `${cls.name}'s constructor takes ${cls.length} parameters but static inject lists ${tokens.length}`;
    }
    return undefined;
  }
  const reflect = Reflect as unknown as { getMetadata?: (key: string, target: object) => unknown };
  if (typeof reflect.getMetadata === 'function' && reflect.getMetadata('design:paramtypes', cls) !== undefined) return undefined;
  if (container.isRegistered(cls, true)) return undefined;
  return (
    `${cls.name || 'the client class'}'s constructor takes ${cls.length} parameter(s) but nothing says what to inject: ` +
    `add \`static inject = [ConnectionInfo, ...]\` to the class (works in plain JavaScript and with standard decorators), ` +
    `or decorate it with @clientClass()/@injectable() and compile with "experimentalDecorators" and "emitDecoratorMetadata" ` +
    `and import 'reflect-metadata' first`
  );
}
