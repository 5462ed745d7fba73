/**
 * A throwaway nats-server with JetStream (Debian's nats-server package) for the demo, the tests
 * and the benches: `-js -sd DIR`, listening on 127.0.0.1 of the namespace it runs in (a
 * sandbox namespace, whose loopback is its own, or this one), on a port of the caller's. It can
 * be stopped and started again on the same port and directory (a NATS restart). The caller
 * removes the directory (or lets `remove()` do it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox } from './netns.js';

export interface NatsServerOptions {
  port: number;
  /** Run it in this sandbox namespace (else in the caller's). */
  sandbox?: Sandbox;
  ns?: string;
  /** The JetStream store directory (default: a new temp directory, removed by remove()). */
  dir?: string;
}

export class NatsServer {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly ownDir: boolean;
  log = '';

  constructor(private readonly o: NatsServerOptions) {
    this.port = o.port;
    this.ownDir = o.dir === undefined;
    this.dir = o.dir ?? mkdtempSync(join(tmpdir(), 'xsk-nats-'));
    this.url = `nats://127.0.0.1:${o.port}`;
  }

  /** Start it and wait until it says it is ready (at most `ms`). */
  async start(ms = 10000): Promise<void> {
    const args = ['-js', '-sd', this.dir, '-a', '127.0.0.1', '-p', String(this.port), '-n', `xsk-test-${this.port}`];
    const child = this.o.sandbox ? this.o.sandbox.spawn(this.o.ns ?? this.o.sandbox.dut, 'nats-server', args) : spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`nats-server not ready after ${ms} ms:\n${this.log}`));
      }, ms);
      const onData = (d: Buffer) => {
        this.log += d.toString();
        if (this.log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.stdout!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited ${code} before it was ready:\n${this.log}`));
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Stop it (SIGTERM: it flushes its store and closes connections; SIGKILL: a crash), waiting
   * at most `ms` before SIGKILL.
   */
  async stop(ms = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Stop it and remove its store directory (when it made it). */
  async remove(): Promise<void> {
    await this.stop();
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TCP port free on this namespace's loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
