'use strict';
/**
 * One load generator of the scale benchmark (one of several processes: each
 * holds at most ~15,000 sockets, under its 20,000 descriptor limit).
 *
 * Source addresses: every connection binds a source address 127.0.B.H
 * (B = SOURCE_BASE + generator index, H cycling 1..SOURCE_HOSTS). One source
 * address has only the ~28,000 ports of ip_local_port_range to connect from,
 * so 100,000 connections to one server port cannot come from 127.0.0.1
 * alone; spread over 250 addresses per generator, each address uses a few
 * dozen ports.
 *
 * "Open" means served: a connection counts as open when the worker's banner
 * line has arrived (the worker accepted it and made its client), not when the
 * kernel completed the handshake. So `concurrency` bounds what waits in the
 * server's accept queue (and in the cluster primary's hand-over queue), and
 * the time to open them all is the time until every one is served.
 *
 * "Still served": after the memory is measured, every connection sends one
 * line and counts once the answer arrives, `concurrency` at a time.
 *
 * No per-connection closures: one data, one error and one close handler
 * shared by every socket, the socket's own fields holding its state.
 */
const net = require('node:net');
const tls = require('node:tls');

const SOURCE_BASE = 20;
const SOURCE_HOSTS = 250;
const QUESTION = 'still there?\r\n';

/** The source address of the i-th connection of generator `gen`. */
function sourceAddress(gen, i) {
  return `127.0.${SOURCE_BASE + gen}.${1 + (i % SOURCE_HOSTS)}`;
}

class ScaleLoad {
  /**
   * opts: { host, port, tls, gen (0-based index), count, warm, concurrency }.
   */
  constructor(opts) {
    if (SOURCE_BASE + opts.gen > 255) throw new RangeError(`generator index ${opts.gen} leaves 127.0.0.0/16`);
    this.opts = opts;
    this.opened = 0;
    this.errors = 0;
    this.closedAfterOpen = 0;
    this.answered = 0;
    this.firstError = undefined;
    this.next = 0; // connections started, over warm and held (so source ports never repeat)
    // One client context for every TLS connection: without it tls.connect builds
    // one per connection, about 1 ms of the generator's CPU each (not the server's).
    this.secureContext = opts.tls ? tls.createSecureContext() : undefined;
  }

  counters() {
    return { opened: this.opened, errors: this.errors, closedAfterOpen: this.closedAfterOpen, answered: this.answered };
  }

  /** Opens `count` connections, `concurrency` at a time; resolves when each is served or failed. */
  open(count) {
    const sockets = [];
    const t0 = Date.now();
    const opts = this.opts;
    let started = 0;
    let settled = 0;
    let ok = 0;
    return new Promise((resolve) => {
      const startOne = () => {
        const i = this.next++;
        const source = { localAddress: sourceAddress(opts.gen, i) };
        const s = opts.tls
          ? tls.connect({ host: opts.host, port: opts.port, servername: 'localhost', rejectUnauthorized: false, secureContext: this.secureContext, ...source })
          : net.connect({ host: opts.host, port: opts.port, ...source });
        started++;
        s.load = this;
        s.lines = 0;
        s.awaitLines = 1; // the banner
        s.counted = false;
        s.onServed = onServed;
        s.on('data', onData);
        s.on('error', onError);
        s.on('close', onClose);
        sockets.push(s);
      };
      const onServed = (s, served) => {
        if (s.counted) return;
        s.counted = true;
        settled++;
        if (served) {
          ok++;
          this.opened++;
        }
        if (settled === count) resolve({ sockets, open: ok, ms: Date.now() - t0 });
        else if (started < count) startOne();
      };
      for (let i = 0; i < Math.min(opts.concurrency, count); i++) startOne();
      if (count === 0) resolve({ sockets, open: 0, ms: 0 });
    });
  }

  /** Sends one line on every socket, `concurrency` at a time; resolves with how many answered. */
  ask(sockets) {
    const t0 = Date.now();
    let started = 0;
    let settled = 0;
    let answered = 0;
    return new Promise((resolve) => {
      const done = () => resolve({ asked: sockets.length, answered, ms: Date.now() - t0 });
      const askOne = () => {
        const s = sockets[started++];
        s.onServed = onAnswered;
        s.awaitLines = s.lines + 1; // the answer
        s.counted = false;
        if (s.destroyed) onAnswered(s, false);
        else s.write(QUESTION);
      };
      const onAnswered = (s, ok) => {
        if (s.counted) return;
        s.counted = true;
        settled++;
        if (ok) {
          answered++;
          this.answered++;
        }
        if (settled === sockets.length) done();
        else if (started < sockets.length) askOne();
      };
      for (let i = 0; i < Math.min(this.opts.concurrency, sockets.length); i++) askOne();
      if (sockets.length === 0) done();
    });
  }
}

/** Counts the lines from the server; the one the socket waits for (banner, then answer) settles it. */
function onData(chunk) {
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.lines++;
  if (this.lines >= this.awaitLines) this.onServed(this, true);
}

function onError(error) {
  const load = this.load;
  load.errors++;
  if (!load.firstError) load.firstError = `${error.code || ''} ${error.message}`.trim();
}

function onClose() {
  if (this.lines >= 1 && !this.dropped) this.load.closedAfterOpen++;
  this.onServed(this, false);
}

/** The load object bench/load.js drives: control('warm' | 'unwarm' | 'open' | 'ask' | 'close'). */
function makeScaleLoad(opts) {
  const load = new ScaleLoad(opts);
  let warm = [];
  let held = [];
  const destroyAll = (sockets) => {
    for (const s of sockets) {
      s.dropped = true; // closed by us: not a connection the server lost
      s.destroy();
    }
  };
  return {
    counters: () => load.counters(),
    async control(cmd) {
      if (cmd === 'warm') {
        const r = await load.open(opts.warm);
        warm = r.sockets;
        return { open: r.open, ms: r.ms, errors: load.errors, firstError: load.firstError };
      }
      if (cmd === 'unwarm') {
        destroyAll(warm);
        warm = [];
        return true;
      }
      if (cmd === 'open') {
        const errorsBefore = load.errors;
        const r = await load.open(opts.count);
        held = r.sockets;
        return { open: r.open, ms: r.ms, errors: load.errors - errorsBefore, firstError: load.firstError };
      }
      if (cmd === 'ask') {
        const r = await load.ask(held);
        return { ...r, closedAfterOpen: load.closedAfterOpen };
      }
      if (cmd === 'close') {
        destroyAll(held);
        held = [];
        return true;
      }
      throw new Error(`unknown control ${cmd}`);
    },
    stop() {
      destroyAll(warm);
      destroyAll(held);
    },
  };
}

module.exports = { makeScaleLoad, sourceAddress, SOURCE_BASE, SOURCE_HOSTS };
