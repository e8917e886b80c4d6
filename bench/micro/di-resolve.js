#!/usr/bin/env node
'use strict';
/**
 * In-process micro-benchmark of resolving a client class through tsyringe, the
 * two ways TWSocketServer can do it (evidence for docs/performance.md and the
 * `connectionContainer` option; not part of `pnpm bench`):
 *  child container: a child container per connection, ConnectionInfo registered
 *                   in it, the class resolved there (connectionContainer: true);
 *  server container: the class resolved in the server's container, where
 *                   ConnectionInfo is a factory answering with the connection
 *                   being admitted (the default);
 *  new:             the constructor called directly, for scale.
 *
 *   node bench/micro/di-resolve.js [--count 1000000]
 */
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const fromServer = (id) => require(require.resolve(id, { paths: [path.join(ROOT, 'packages', 'wsocket-server')] }));
fromServer('reflect-metadata');
const tsyringe = fromServer('tsyringe');

const args = process.argv.slice(2);
const count = Number(args[args.indexOf('--count') + 1]) || 1_000_000;

class Info {
  constructor(cliId) {
    this.cliId = cliId;
  }
}
class Client {
  constructor(info) {
    this.info = info;
  }
}
Reflect.defineMetadata('design:paramtypes', [Info], Client);
tsyringe.injectable()(Client);

const perConnection = tsyringe.container.createChildContainer();
let admitting;
const shared = tsyringe.container.createChildContainer();
shared.register(Info, { useFactory: () => admitting });

const variants = {
  'child container': (i) => {
    const connection = perConnection.createChildContainer();
    connection.register(Info, { useValue: new Info(i) });
    return connection.resolve(Client);
  },
  'server container': (i) => {
    admitting = new Info(i);
    try {
      return shared.resolve(Client);
    } finally {
      admitting = undefined;
    }
  },
  new: (i) => new Client(new Info(i)),
};

let last;
const results = {};
for (let round = 0; round < 3; round++) {
  for (const [name, resolve] of Object.entries(variants)) {
    for (let i = 0; i < count / 5; i++) last = resolve(i); // warm-up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) last = resolve(i);
    const ns = Number(process.hrtime.bigint() - t0) / count;
    if (!(last instanceof Client) || last.info.cliId !== count - 1) throw new Error(`${name}: wrong client`);
    (results[name] ||= []).push(ns);
  }
}
process.stdout.write(`median ns per resolve (${count.toLocaleString('en')} resolves x 3 rounds):\n`);
for (const [name, v] of Object.entries(results)) {
  v.sort((a, b) => a - b);
  process.stdout.write(`  ${name.padEnd(17)} ${v[1].toFixed(0)}\n`);
}
