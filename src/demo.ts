#!/usr/bin/env node
/**
 * The demo: build a sandbox (two namespaces and a veth pair), run xsk on one end, send UDP
 * from the other for a few seconds, show xsk's stats lines and its summary, tear it all down.
 *   sudo node dist/demo.js [--seconds S] [--mode native|generic] [--traffic gen|dgram] [--nats]
 * Traffic comes from xsk-gen (XDP live frames, millions per second; an AF_XDP socket's TX ring
 * where the kernel refuses those) or from node:dgram.
 * --nats: a throwaway nats-server (JetStream, temp store) runs in the sandbox next to xsk, which
 * publishes what it receives to it; the demo then shows the stream and its first messages.
 */
import { parseArgs } from 'node:util';
import { Sandbox } from './sandbox/netns.js';
import { XskProcess, runTool } from './sandbox/xsk-process.js';
import { NatsServer } from './sandbox/nats-server.js';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    mode: { type: 'string', default: 'native' },
    traffic: { type: 'string', default: 'gen' },
    nats: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= 60)) {
  process.stderr.write('demo: --seconds must be a number from 1 to 60\n');
  process.exit(2);
}
if (!['gen', 'dgram'].includes(String(values.traffic)) || !['native', 'generic'].includes(String(values.mode))) {
  process.stderr.write('demo: --traffic is gen or dgram, --mode native or generic\n');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write('demo: needs root (network namespaces and XDP); run it with sudo\n');
  process.exit(1);
}

const sb = new Sandbox({ name: 'xsk-demo' });
let natsServer: NatsServer | undefined;
let code = 1;
try {
  console.log(`sandbox: ${sb.gen} (${sb.genIf} ${sb.genAddr}) <-> ${sb.dut} (${sb.dutIf} ${sb.dutAddr}), veth`);
  const args = ['--iface', sb.dutIf, '--port', '9000', '--mode', String(values.mode), '--duration', String(seconds + 2)];
  if (values.nats) {
    natsServer = new NatsServer({ port: 4222, sandbox: sb });
    await natsServer.start();
    console.log(`nats-server: JetStream on 127.0.0.1:4222 in ${sb.dut}, store ${natsServer.dir}`);
    args.push('--nats', 'nats://127.0.0.1:4222');
  }
  console.log(`xsk: ${args.join(' ')}   (in ${sb.dut})`);
  const xsk = new XskProcess(sb, args);
  xsk.onLine = (line) => {
    try {
      console.log(`  xsk | ${JSON.parse(line).msg}`);
    } catch {
      console.log(`  xsk | ${line}`);
    }
  };
  await xsk.up();
  let sent: Record<string, number> & { method?: string };
  if (values.traffic === 'dgram') {
    console.log(`traffic: UDP to ${sb.dutAddr}:9000 from ${sb.gen} for ${seconds} s (node dgram, 64-byte payloads)`);
    sent = await runTool(sb, sb.gen, 'udp-send', [
      '--to', sb.dutAddr, '--port', '9000', '--count', '100000000', '--seconds', String(seconds),
      '--burst', '64', '--gap-ms', '0',
    ]);
  } else {
    // veth's XDP transmit needs NAPI on the receiving peer: the XDP program gives it in native
    // mode, GRO in generic mode.
    sb.exec(sb.dut, 'ethtool', ['-K', sb.dutIf, 'gro', 'on']);
    console.log(`traffic: UDP to ${sb.dutAddr}:9000 from ${sb.gen} for ${seconds} s (xsk-gen, 18-byte payloads)`);
    sent = await runTool(sb, sb.gen, '../gen', [
      '--iface', sb.genIf, '--dst-mac', sb.dutMac, '--src-mac', sb.genMac, '--src-ip', sb.genAddr,
      '--dst-ip', sb.dutAddr, '--dst-port', '9000', '--count', String(seconds * 5_000_000), '--seconds', String(seconds),
    ]);
  }
  const how = sent.method === 'afxdp' ? ", through an AF_XDP socket's TX ring (this kernel refuses XDP live frames)" : sent.method === 'live' ? ' as XDP live frames' : '';
  console.log(`traffic: sent ${sent.sent} datagrams in ${sent.seconds.toFixed(2)} s${how}`);
  code = (await xsk.exit(seconds * 1000 + 10000)) ?? 1;
  const s = xsk.summary();
  console.log('summary (the JSON line xsk printed on stdout):');
  console.log(JSON.stringify(s, null, 2));
  console.log(`received ${s.rx_packets} of ${sent.sent} sent; kernel drops: ${JSON.stringify(s.xdp_stats)}`);
  if (values.nats) {
    const n = s.nats;
    console.log(`nats: ${n.published} messages published to stream ${n.stream}, ${n.dropped} dropped (NATS slower than the traffic: the oldest beyond --nats-queue), receive → ack p99 ${n.rx_to_ack?.p99_us} µs`);
    const consumer = fileURLToPath(new URL('./nats-consumer.js', import.meta.url));
    const info = sb.exec(sb.dut, process.execPath, [consumer, '--server', 'nats://127.0.0.1:4222', '--stream', n.stream, '--info']);
    console.log(`stream ${n.stream}: ${JSON.stringify(JSON.parse(info).state)}`);
    console.log('its first 3 messages, read by a consumer (dist/nats-consumer.js --print):');
    const first = sb.exec(sb.dut, process.execPath, [consumer, '--server', 'nats://127.0.0.1:4222', '--stream', n.stream, '--count', '3', '--print', '--seconds', '10']);
    for (const line of first.trim().split('\n')) console.log(`  ${line}`);
  }
} finally {
  await natsServer?.remove();
  sb.destroy();
  console.log('sandbox removed');
}
process.exit(code);
