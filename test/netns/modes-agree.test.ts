/**
 * Raw mode and AF_XDP classify the same traffic the same way (issue 13). One corpus of frames,
 * well-formed and malformed, built with src/frame/build.ts and sent as they are from the gen
 * namespace through an AF_PACKET socket (dist/sandbox/raw-send.js), goes through xsk in raw,
 * native and generic mode; the summaries' rx_packets, rx_datagrams and every `invalid` count
 * are the same in all three, and equal what the XDP program should steer and the parser say:
 *   - three VLAN tags: the XDP program passes them to the kernel; raw mode took them (the kernel
 *     moves the outer tag out of the data, and the filter counted only the inline ones);
 *   - a UDP header cut after the destination port: passed by XDP; raw mode took them and counted
 *     each as ipv4_length_mismatch (the IPv4 total length says more than the frame holds);
 *   - fragments, IHL < 5, TCP, IPv6 extension headers, other ports: the kernel's, in every mode.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../../src/sandbox/netns.js';
import { XskProcess, runTool, stopLeftoverXsks } from '../../src/sandbox/xsk-process.js';
import { buildUdpFrame, TPID_8021AD, TPID_8021Q, type UdpFrameOptions } from '../../src/frame/build.js';
import { FrameParser } from '../../src/frame/parse.js';
import { INVALID_REASONS, PARSE_OK } from '../../src/frame/invalid-reason.js';

// An xsk left running by a failed assertion would hold the interface for every later test.
afterEach(stopLeftoverXsks);

const PORT = 9000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** [what, how many, options, whether the XDP program steers it to xsk]. */
type Kind = [string, number, UdpFrameOptions, boolean];

function corpus(sb: Sandbox): { frames: Uint8Array[]; steered: Uint8Array[] } {
  const v4 = { srcMac: sb.genMac, dstMac: sb.dutMac, srcIp: sb.genAddr, dstIp: sb.dutAddr, dstPort: PORT };
  const v6 = { srcMac: sb.genMac, dstMac: sb.dutMac, srcIp: sb.genAddr6, dstIp: sb.dutAddr6, dstPort: PORT };
  const hdr = 14 + 20;
  const kinds: Kind[] = [
    ['IPv4', 100, { ...v4, payload: 100 }, true],
    ['IPv6', 100, { ...v6, payload: 200 }, true],
    ['one 802.1Q tag', 40, { ...v4, vlans: [{ id: 10 }] }, true],
    ['802.1ad + 802.1Q', 40, { ...v4, vlans: [{ tpid: TPID_8021AD, id: 10 }, { tpid: TPID_8021Q, id: 20 }] }, true],
    ['IPv6 under two tags', 40, { ...v6, vlans: [{ tpid: TPID_8021AD, id: 11 }, { id: 21 }] }, true],
    ['three tags', 40, { ...v4, vlans: [{ tpid: TPID_8021AD, id: 1 }, { id: 2 }, { id: 3 }] }, false],
    ['UDP header cut after the port', 60, { ...v4, payload: 20, truncate: hdr + 7 }, false],
    ['IPv6 UDP header cut after the port', 30, { ...v6, payload: 20, truncate: 14 + 40 + 7 }, false],
    ['cut inside the payload', 30, { ...v4, payload: 100, truncate: hdr + 8 + 50 }, true],
    ['IPv4 total length too large', 30, { ...v4, totalLength: 20 + 8 + 32 + 40 }, true],
    ['IPv4 total length too small', 30, { ...v4, totalLength: 20 + 4 }, true],
    ['bad IPv4 header checksum', 30, { ...v4, badIpChecksum: true }, true],
    ['UDP length too large', 30, { ...v4, udpLength: 8 + 32 + 10 }, true],
    ['bad UDP checksum', 30, { ...v4, badUdpChecksum: true }, true],
    ['IPv6 payload length wrong', 30, { ...v6, ipv6PayloadLength: 8 + 32 + 16 }, true],
    ['Ethernet padding after a short datagram', 30, { ...v4, payload: 2, padTo: 60 }, true],
    ['trailing bytes after the IPv4 packet', 30, { ...v4, padding: 10 }, true],
    ['IPv4 options (IHL 8)', 30, { ...v4, ihl: 8 }, true],
    ['first fragment', 20, { ...v4, fragment: { moreFragments: true } }, false],
    ['later fragment', 20, { ...v4, fragment: { offset: 100 } }, false],
    ['IHL 4', 20, { ...v4, ihl: 4 }, false],
    ['TCP', 20, { ...v4, protocol: 6 }, false],
    ['IPv6 extension header', 20, { ...v6, nextHeader: 0 }, false],
    ['another port', 20, { ...v4, dstPort: PORT + 1 }, false],
  ];
  const frames: Uint8Array[] = [];
  const steered: Uint8Array[] = [];
  for (const [, n, opts, steer] of kinds) {
    const f = buildUdpFrame(opts);
    for (let i = 0; i < n; i++) {
      frames.push(f);
      if (steer) steered.push(f);
    }
  }
  return { frames, steered };
}

describe('raw and AF_XDP modes classify one corpus the same way', () => {
  let sb: Sandbox;
  let dir: string;
  let file: string;
  let total = 0;
  let expected: { packets: number; datagrams: number; invalid: Record<string, number> };
  const seen: Record<string, Record<string, any>> = {};

  before(() => {
    sb = new Sandbox({ name: 'xskt-agree' });
    dir = mkdtempSync(join(tmpdir(), 'xsk-agree-'));
    file = join(dir, 'frames.hex');
    const { frames, steered } = corpus(sb);
    total = frames.length;
    writeFileSync(file, frames.map((f) => Buffer.from(f).toString('hex')).join('\n') + '\n');
    // What the pipeline should make of the frames the XDP program steers: the parser's verdicts.
    const parser = new FrameParser();
    const invalid = Object.fromEntries(INVALID_REASONS.map((r) => [r, 0]));
    let datagrams = 0;
    for (const f of steered) {
      const r = parser.parse(f, 0, f.length);
      if (r === PARSE_OK) datagrams++;
      else invalid[INVALID_REASONS[r]]++;
    }
    expected = { packets: steered.length, datagrams, invalid };
  });
  after(() => {
    sb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['raw', 'native', 'generic'] as const) {
    it(`${mode} mode counts the corpus as expected`, async () => {
      const xsk = new XskProcess(sb, ['--iface', sb.dutIf, '--port', String(PORT), '--mode', mode]);
      try {
        await xsk.up();
        const sent = await runTool(sb, sb.gen, 'raw-send', ['--iface', sb.genIf, '--frames', file]);
        assert.equal(sent.sent, total);
        await sleep(400);
      } finally {
        xsk.signal('SIGTERM');
      }
      assert.equal(await xsk.exit(), 0, xsk.stderr);
      const s = xsk.summary();
      seen[mode] = s;
      assert.equal(s.mode, mode);
      const dropped = mode === 'raw' ? s.raw_stats.rx_dropped : s.xdp_stats.rx_dropped + s.xdp_stats.rx_ring_full;
      assert.equal(dropped, 0, JSON.stringify(s));
      assert.deepEqual(
        { packets: s.rx_packets, datagrams: s.rx_datagrams, invalid: s.invalid },
        expected,
        `${mode}: ${JSON.stringify(s)}`,
      );
    });
  }

  it('the three summaries agree exactly (rx_packets, rx_datagrams, invalid)', () => {
    const pick = (s: Record<string, any>) => ({ rx_packets: s.rx_packets, rx_datagrams: s.rx_datagrams, invalid: s.invalid });
    assert.ok(seen.raw && seen.native && seen.generic, 'every mode ran');
    assert.deepEqual(pick(seen.raw), pick(seen.native));
    assert.deepEqual(pick(seen.generic), pick(seen.native));
  });
});
