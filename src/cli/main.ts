/**
 * The xsk CLI's work, once cli/heap.ts has given node its flags (src/xsk.ts loads this module
 * after that, so nothing here is loaded twice): options, interface checks, then the runner.
 */
import { parseOptions } from './options.js';
import { ifindexOf, rxQueueCount } from '../sys/interfaces.js';
import { Forwarder } from '../forward/component.js';
import { run } from '../run/runner.js';
import { log } from '../log.js';
import { checkPorts } from '../rawsock/filter.js';

function fail(msg: string): never {
  process.stderr.write(`xsk: ${msg}\n`);
  process.exit(1);
}

const opts = parseOptions(process.argv);
const ifindex = ifindexOf(opts.iface);
if (!ifindex) fail(`--iface: no interface named "${opts.iface}" in this network namespace`);
const rxQueues = rxQueueCount(opts.iface);
// --queues: the list to bind, each checked against the interface.
const queueList = opts.queues === 'all' ? Array.from({ length: Math.max(rxQueues, 1) }, (_, i) => i) : opts.queues;
const queues = queueList ?? [opts.queue];
for (const q of queues) {
  if (rxQueues > 0 && q >= rxQueues) fail(`${queueList ? '--queues' : '--queue'}: ${opts.iface} has ${rxQueues} RX queue(s), no queue ${q}`);
}
if (rxQueues > queues.length && opts.mode !== 'raw') {
  log.warn(
    `${opts.iface} has ${rxQueues} RX queues and xsk binds only ${queueList ? `queues ${queueList.join(',')}` : `queue ${opts.queue}`}: datagrams that RSS puts on the other ${rxQueues - queues.length} are not seen${queueList ? '' : ' (--queues all takes them all)'}`,
  );
}

// Forwarding rules come from --forward and --config; their frontend ports join --port.
let forwarder: Forwarder | undefined;
if (opts.forward.rules.length > 0 || opts.config) {
  try {
    forwarder = new Forwarder({ ifname: opts.iface, cli: opts.forward, configPath: opts.config, basePorts: opts.ports });
  } catch (e) {
    fail(`${opts.config ? '--config' : '--forward'}: ${(e as Error).message}`);
  }
}
const ports = forwarder ? forwarder.ports() : opts.ports;
// Limits checked before acting (auto mode's fallback to raw checks raw's own before it falls back).
const portProblem = checkPorts(opts.mode === 'raw' ? 'raw' : 'native', ports);
if (portProblem) fail(portProblem);

await run({ opts, ifindex, queues, queueList: queueList !== undefined, ports, forwarder, fail });
