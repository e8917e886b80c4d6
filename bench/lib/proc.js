'use strict';
/**
 * The parent side: starts a server or load process (node, forked, with an IPC
 * channel), calls into it, stops it by its own handle. Every child also has
 * its own hard timer (lib/child.js), so nothing outlives a crashed parent.
 */
const { fork, spawnSync } = require('node:child_process');
const path = require('node:path');

const BENCH_DIR = path.resolve(__dirname, '..');

let taskset;
function hasTaskset() {
  if (taskset === undefined) taskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  return taskset;
}

class Child {
  /**
   * role: 'server' | 'load'; args: [bench, impl?]; opts: JSON given to the child.
   * options.execArgv: node flags (--expose-gc, --cpu-prof...); options.cpu: pin to this core list.
   */
  constructor(role, bench, impl, opts, options = {}) {
    this.label = `${role} ${bench}${impl ? ` ${impl}` : ''}`;
    const script = path.join(BENCH_DIR, `${role}.js`);
    this.proc = fork(script, [bench, impl || '-', JSON.stringify(opts)], {
      execArgv: options.execArgv || [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    if (options.cpu !== undefined && hasTaskset()) {
      spawnSync('taskset', ['-a', '-p', '-c', String(options.cpu), String(this.proc.pid)], { stdio: 'ignore' });
    }
    this.nextId = 1;
    this.pending = new Map();
    this.waiters = [];
    this.messages = [];
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitCode = code === null ? signal : code;
        const error = new Error(`${this.label} exited (${this.exitCode}) ${this.fatal ? `: ${this.fatal}` : ''}`);
        for (const { reject } of this.pending.values()) reject(error);
        this.pending.clear();
        for (const w of this.waiters) w.reject(error);
        this.waiters = [];
        resolve(this.exitCode);
      });
    });
    this.proc.on('error', () => {});
    this.proc.on('message', (msg) => this.onMessage(msg));
  }

  onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new Error(`${this.label}: ${msg.error}`));
      else p.resolve(msg.data);
      return;
    }
    if (msg.type === 'fatal') this.fatal = msg.error;
    const i = this.waiters.findIndex((w) => w.type === msg.type);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(msg.data);
    } else {
      this.messages.push(msg);
    }
  }

  /** The next message of `type` (an event the child sent on its own). */
  waitFor(type, timeoutMs = 30000) {
    const i = this.messages.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0].data);
    if (this.exitCode !== undefined) return Promise.reject(new Error(`${this.label} has exited`));
    return new Promise((resolve, reject) => {
      const w = { type, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.label}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  call(name, arg, timeoutMs = 30000) {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`${this.label} has exited (${this.exitCode})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: call ${name} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.proc.send({ type: 'call', id, name, arg });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  /** Asks the child to stop (it exits after replying); kills it if it does not within `graceMs`. */
  async stop(graceMs = 5000) {
    if (this.exitCode !== undefined) return;
    try {
      await this.call('stop', undefined, graceMs);
    } catch {
      // no reply: killed below
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill() {
    if (this.exitCode === undefined) this.proc.kill('SIGKILL');
  }
}

module.exports = { Child, hasTaskset };
