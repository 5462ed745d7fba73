/**
 * A throwaway network for demos and tests: two network namespaces joined by a veth pair.
 *
 *     namespace <name>-gen                      namespace <name>-dut
 *     gen0  10.199.0.1/24  fd00:199::1/64  <->  dut0  10.199.0.2/24  fd00:199::2/64
 *
 * With `backends: n`, gen0 joins a bridge br0 in -gen (which then holds -gen's addresses), and n
 * more namespaces <name>-b1..bn hang off that bridge by their own veths, at 10.199.0.11.. and
 * fd00:199::11..: one L2 segment with the client, xsk's interface and the backends. Their MACs
 * are not put in -dut's neighbour table: xsk has to resolve them.
 *
 * The traffic generator runs in -gen, xsk in -dut (the device under test). Each veth gets one RX
 * and one TX queue unless asked otherwise, so a single flow can't land on a queue xsk isn't
 * bound to. Neighbour entries are static, so no datagram waits on ARP/ND. Checksum offload stays
 * as veth has it (on), as on every container or VM host: datagrams from the client's sockets
 * reach dut0 with partial UDP checksums (CHECKSUM_PARTIAL: the field holds the pseudo-header sum
 * only), which is what xsk's users see from local senders; `clientChecksumOffload: false` turns
 * it off on the client's devices, so its frames carry full checksums as from a real NIC. Deleting the namespaces
 * deletes the veths (and any XDP program on them); processes still running in them are killed
 * first. Addresses exist only inside the namespaces.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface SandboxOptions {
  /** Prefix of the namespace names; made unique with the pid. */
  name?: string;
  rxQueues?: number;
  txQueues?: number;
  /** Backend namespaces on a bridge with the client (for forwarding tests). */
  backends?: number;
  /**
   * TX checksum offload on the client's devices (gen0, and br0 with backends). Default true, the
   * veth default: local senders' datagrams leave with partial UDP checksums. false: full ones.
   */
  clientChecksumOffload?: boolean;
}

export interface BackendHost {
  ns: string;
  dev: string;
  addr: string;
  addr6: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function macOf(ns: string, dev: string): string {
  const [link] = JSON.parse(ip('-n', ns, '-j', 'link', 'show', dev)) as { address: string }[];
  return link.address;
}

const live = new Set<Sandbox>();
let exitHookInstalled = false;

export class Sandbox {
  readonly gen: string;
  readonly dut: string;
  readonly genIf = 'gen0';
  readonly dutIf = 'dut0';
  readonly genAddr = '10.199.0.1';
  readonly dutAddr = '10.199.0.2';
  readonly genAddr6 = 'fd00:199::1';
  readonly dutAddr6 = 'fd00:199::2';
  genMac = '';
  dutMac = '';
  readonly backends: BackendHost[] = [];
  private destroyed = false;
  private readonly extraNs: string[] = [];

  constructor(opts: SandboxOptions = {}) {
    const base = `${opts.name ?? 'xsk'}-${process.pid}-${live.size}`;
    this.gen = `${base}-gen`;
    this.dut = `${base}-dut`;
    const rxq = String(opts.rxQueues ?? 1);
    const txq = String(opts.txQueues ?? 1);
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const s of live) s.destroy();
      });
    }
    try {
      ip('netns', 'add', this.gen);
      ip('netns', 'add', this.dut);
      ip('link', 'add', this.genIf, 'netns', this.gen, 'numrxqueues', rxq, 'numtxqueues', txq, 'type', 'veth',
        'peer', 'name', this.dutIf, 'netns', this.dut, 'numrxqueues', rxq, 'numtxqueues', txq);
      // With backends, the client's addresses live on a bridge that gen0 and the backends join.
      const clientDev = opts.backends ? 'br0' : this.genIf;
      if (opts.backends) {
        ip('-n', this.gen, 'link', 'add', 'br0', 'type', 'bridge');
        ip('-n', this.gen, 'link', 'set', this.genIf, 'master', 'br0');
        ip('-n', this.gen, 'link', 'set', this.genIf, 'up');
      }
      for (const [ns, dev, a4, a6] of [
        [this.gen, clientDev, this.genAddr, this.genAddr6],
        [this.dut, this.dutIf, this.dutAddr, this.dutAddr6],
      ]) {
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'addr', 'add', `${a4}/24`, 'dev', dev);
        ip('-n', ns, 'addr', 'add', `${a6}/64`, 'dev', dev, 'nodad');
        ip('-n', ns, 'link', 'set', dev, 'up');
      }
      for (let i = 1; i <= (opts.backends ?? 0); i++) {
        const b: BackendHost = { ns: `${base}-b${i}`, dev: 'bk0', addr: `10.199.0.${10 + i}`, addr6: `fd00:199::${10 + i}` };
        ip('netns', 'add', b.ns);
        this.extraNs.push(b.ns);
        ip('link', 'add', `bk${i}`, 'netns', this.gen, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns);
        ip('-n', this.gen, 'link', 'set', `bk${i}`, 'master', 'br0');
        ip('-n', this.gen, 'link', 'set', `bk${i}`, 'up');
        ip('-n', b.ns, 'link', 'set', 'lo', 'up');
        ip('-n', b.ns, 'addr', 'add', `${b.addr}/24`, 'dev', b.dev);
        ip('-n', b.ns, 'addr', 'add', `${b.addr6}/64`, 'dev', b.dev, 'nodad');
        ip('-n', b.ns, 'link', 'set', b.dev, 'up');
        this.backends.push(b);
      }
      if (opts.clientChecksumOffload === false) {
        for (const dev of new Set([this.genIf, clientDev])) this.exec(this.gen, 'ethtool', ['-K', dev, 'tx', 'off']);
      }
      this.genMac = macOf(this.gen, clientDev);
      this.dutMac = macOf(this.dut, this.dutIf);
      for (const [ns, dev, peer4, peer6, mac] of [
        [this.gen, this.genIf, this.dutAddr, this.dutAddr6, this.dutMac],
        [this.dut, this.dutIf, this.genAddr, this.genAddr6, this.genMac],
      ]) {
        ip('-n', ns, 'neigh', 'replace', peer4, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
        ip('-n', ns, 'neigh', 'replace', peer6, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Run a command inside one of the namespaces. */
  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  }

  exec(ns: string, cmd: string, args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /**
   * A namespace's kernel UDP error counters (IPv4 and IPv6 together), since it was made:
   * datagrams dropped for a bad checksum, and for a full socket buffer (a slow receiver).
   */
  udpErrors(ns: string): { csum: number; rcvbuf: number } {
    const out = this.exec(ns, 'nstat', ['-az', '-s', 'UdpInCsumErrors', 'Udp6InCsumErrors', 'UdpRcvbufErrors', 'Udp6RcvbufErrors']);
    const v = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(out)?.[1] ?? NaN);
    return { csum: v('UdpInCsumErrors') + v('Udp6InCsumErrors'), rcvbuf: v('UdpRcvbufErrors') + v('Udp6RcvbufErrors') };
  }

  /** The XDP attachment of an interface, as `ip link` shows it ('' when none). */
  xdpOn(ns: string, dev: string): string {
    const [link] = JSON.parse(ip('-n', ns, '-j', '-d', 'link', 'show', dev)) as { xdp?: unknown }[];
    return link.xdp ? JSON.stringify(link.xdp) : '';
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const ns of [this.gen, this.dut, ...this.extraNs]) {
      try {
        // Whatever still runs in the namespace (a test's xsk whose test failed) goes with it.
        // (Not this process: a test may have entered the namespace itself.)
        for (const pid of ip('netns', 'pids', ns).split('\n').filter((p) => p && Number(p) !== process.pid)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        ip('netns', 'del', ns);
      } catch (e) {
        // A namespace that was never created is fine; one that can't be removed is a leak: say so.
        const msg = String((e as { stderr?: string }).stderr ?? e);
        if (!/No such file|does not exist/.test(msg)) process.stderr.write(`sandbox: could not delete namespace ${ns}: ${msg.trim()}\n`);
      }
    }
  }
}
