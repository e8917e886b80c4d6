import { injectable } from 'tsyringe';
import { TWSocketClient } from './wsocket-client';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ClientConstructor<C extends TWSocketClient = TWSocketClient> = new (...args: any[]) => C;

/** A client class given directly, or by the name it was registered under (config files). */
export type ClientClassRef<C extends TWSocketClient = TWSocketClient> = ClientConstructor<C> | string;

/**
 * Client classes by name, so a JSON config can say `"clientClass": "chat"`.
 * This is a plain map: it never touches a tsyringe container.
 */
export class ClientClassRegistry {
  private readonly byName = new Map<string, ClientConstructor>();

  register(name: string, cls: ClientConstructor): void {
    if (typeof name !== 'string' || name.trim() === '') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `client class name must be a non-empty string, got ${JSON.stringify(name)}`);
    }
    if (typeof cls !== 'function') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `client class "${name}" must be a class`);
    if (!isClientClass(cls)) {
      throw icsError(TypeError, ICS_ERR.INVALID_CLIENT_CLASS, `client class "${name}": ${cls.name || 'the class'} does not extend TWSocketClient`);
    }
    const existing = this.byName.get(name);
    if (existing && existing !== cls) {
      throw icsError(Error, ICS_ERR.CLIENT_CLASS_REGISTERED, `client class name "${name}" is already registered to ${existing.name}`);
    }
    this.byName.set(name, cls);
  }

  unregister(name: string): boolean {
    return this.byName.delete(name);
  }

  get(name: string): ClientConstructor | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** The class a reference means; TypeError naming `option` for an unknown name. */
  resolve<C extends TWSocketClient>(ref: ClientClassRef<C>, option = 'clientClass'): ClientConstructor<C> {
    if (typeof ref === 'function') return ref;
    if (typeof ref === 'string') {
      const cls = this.byName.get(ref);
      if (cls) return cls as ClientConstructor<C>;
      const known = this.names();
      throw icsError(
        TypeError,
        ICS_ERR.INVALID_CLIENT_CLASS,
        `option ${option}: no client class is registered as "${ref}"` +
          (known.length ? ` (registered: ${known.join(', ')})` : ' (none is registered)'),
      );
    }
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `option ${option} must be a TWSocketClient subclass or a registered name, got ${typeof ref}`);
  }
}

/** TWSocketClient itself or a subclass of it. */
export function isClientClass(cls: unknown): boolean {
  return (
    typeof cls === 'function' &&
    (cls === TWSocketClient || (cls.prototype !== undefined && cls.prototype instanceof TWSocketClient))
  );
}

/** The registry servers use unless given their own. */
export const clientClassRegistry = new ClientClassRegistry();

/** Registers `cls` under `name` (in the default registry unless another is given). */
export function registerClientClass(name: string, cls: ClientConstructor, registry = clientClassRegistry): void {
  registry.register(name, cls);
}

/**
 * Class decorator: makes the class injectable (tsyringe) and registers it by
 * name, so `@clientClass('chat') class ChatClient extends TWSocketClient {}`
 * is all a config file needs.
 */
export function clientClass(name: string, registry = clientClassRegistry) {
  return <T extends ClientConstructor>(cls: T): T => {
    injectable()(cls);
    registry.register(name, cls);
    return cls;
  };
}
