/**
 * The AF_PACKET structs in src/sys/if-packet.ts against the installed kernel headers: a small C
 * probe (written and compiled here with cc) prints sizeof/offsetof of every field; the koffi
 * types must agree, and so must the offsets the raw port's data path uses directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import * as p from '../../src/sys/if-packet.js';

const STRUCTS: Record<keyof typeof p.MIRRORED_PACKET_STRUCTS, string[]> = {
  tpacket_req3: ['tp_block_size', 'tp_block_nr', 'tp_frame_size', 'tp_frame_nr', 'tp_retire_blk_tov', 'tp_sizeof_priv', 'tp_feature_req_word'],
  tpacket_bd_ts: ['ts_sec', 'ts_usec'],
  tpacket_hdr_v1: ['block_status', 'num_pkts', 'offset_to_first_pkt', 'blk_len', 'seq_num', 'ts_first_pkt', 'ts_last_pkt'],
  tpacket_block_desc: ['version', 'offset_to_priv', 'hdr'],
  tpacket_hdr_variant1: ['tp_rxhash', 'tp_vlan_tci', 'tp_vlan_tpid', 'tp_padding'],
  tpacket3_hdr: ['tp_next_offset', 'tp_sec', 'tp_nsec', 'tp_snaplen', 'tp_len', 'tp_status', 'tp_mac', 'tp_net', 'hv1', 'tp_padding'],
  tpacket2_hdr: ['tp_status', 'tp_len', 'tp_snaplen', 'tp_mac', 'tp_net', 'tp_sec', 'tp_nsec', 'tp_vlan_tci', 'tp_vlan_tpid', 'tp_padding'],
  tpacket_stats_v3: ['tp_packets', 'tp_drops', 'tp_freeze_q_cnt'],
  sockaddr_ll: ['sll_family', 'sll_protocol', 'sll_ifindex', 'sll_hatype', 'sll_pkttype', 'sll_halen', 'sll_addr'],
  sock_filter: ['code', 'jt', 'jf', 'k'],
  sock_fprog: ['len', 'filter'],
};

const CONSTANTS = [
  'SOL_PACKET', 'PACKET_RX_RING', 'PACKET_STATISTICS', 'PACKET_VERSION', 'PACKET_RESERVE', 'PACKET_TX_RING', 'PACKET_LOSS',
  'PACKET_QDISC_BYPASS', 'PACKET_IGNORE_OUTGOING', 'SO_ATTACH_FILTER', 'SO_DETACH_FILTER', 'TPACKET_V2', 'TPACKET_V3',
  'ETH_P_ALL', 'ETH_P_IP', 'ETH_P_IPV6', 'ETH_P_8021Q', 'ETH_P_8021AD', 'PACKET_OUTGOING',
  'TP_STATUS_KERNEL', 'TP_STATUS_USER', 'TP_STATUS_VLAN_VALID', 'TP_STATUS_VLAN_TPID_VALID', 'TP_STATUS_AVAILABLE',
  'TP_STATUS_SEND_REQUEST', 'TP_STATUS_SENDING', 'TP_STATUS_WRONG_FORMAT', 'TPACKET_ALIGNMENT', 'TPACKET3_HDRLEN',
] as const;

function probe(): { structs: Record<string, { size: number; fields: Record<string, number> }>; constants: Record<string, number> } {
  const lines = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    '#include <sys/socket.h>',
    '#include <linux/if_packet.h>',
    '#include <linux/if_ether.h>',
    '#include <linux/filter.h>',
    'int main(void) {',
    '  printf("{\\"structs\\":{");',
  ];
  Object.entries(STRUCTS).forEach(([name, fields], i) => {
    lines.push(`  printf("%s\\"${name}\\":{\\"size\\":%zu,\\"fields\\":{", ${i ? '","' : '""'}, sizeof(struct ${name}));`);
    fields.forEach((fld, j) => lines.push(`  printf("%s\\"${fld}\\":%zu", ${j ? '","' : '""'}, offsetof(struct ${name}, ${fld}));`));
    lines.push('  printf("}}");');
  });
  lines.push('  printf("},\\"constants\\":{");');
  CONSTANTS.forEach((c, i) => lines.push(`  printf("%s\\"${c}\\":%ld", ${i ? '","' : '""'}, (long)(${c}));`));
  lines.push('  printf("}}\\n");', '  return 0;', '}');
  const dir = mkdtempSync(join(tmpdir(), 'xsk-raw-layout-'));
  try {
    writeFileSync(join(dir, 'probe.c'), lines.join('\n'));
    execFileSync('cc', ['-o', join(dir, 'probe'), join(dir, 'probe.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
    return JSON.parse(execFileSync(join(dir, 'probe'), { encoding: 'utf8' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const c = probe();

for (const [name, fields] of Object.entries(STRUCTS)) {
  test(`struct ${name}: koffi layout matches the kernel headers`, () => {
    const type = p.MIRRORED_PACKET_STRUCTS[name as keyof typeof p.MIRRORED_PACKET_STRUCTS];
    const problems: string[] = [];
    if (koffi.sizeof(type) !== c.structs[name].size) problems.push(`size: koffi ${koffi.sizeof(type)}, C ${c.structs[name].size}`);
    for (const fld of fields) {
      const got = koffi.offsetof(type, fld);
      if (got !== c.structs[name].fields[fld]) problems.push(`${fld}: koffi ${got}, C ${c.structs[name].fields[fld]}`);
    }
    const members = Object.keys(koffi.type(type).members ?? {});
    assert.deepEqual(members.sort(), [...fields].sort(), 'every koffi member is probed');
    assert.deepEqual(problems, []);
  });
}

test('the constants match the kernel headers', () => {
  for (const name of CONSTANTS) assert.equal((p as unknown as Record<string, number>)[name], c.constants[name], name);
});

test('the data path offsets agree with the structs', () => {
  const hdr = koffi.offsetof(p.tpacket_block_desc, 'hdr');
  assert.equal(p.BLOCK.status, hdr + koffi.offsetof(p.tpacket_hdr_v1, 'block_status'));
  assert.equal(p.BLOCK.numPkts, hdr + koffi.offsetof(p.tpacket_hdr_v1, 'num_pkts'));
  assert.equal(p.BLOCK.offsetToFirstPkt, hdr + koffi.offsetof(p.tpacket_hdr_v1, 'offset_to_first_pkt'));
  const hv1 = koffi.offsetof(p.tpacket3_hdr, 'hv1');
  assert.equal(p.FRAME3.nextOffset, koffi.offsetof(p.tpacket3_hdr, 'tp_next_offset'));
  assert.equal(p.FRAME3.snaplen, koffi.offsetof(p.tpacket3_hdr, 'tp_snaplen'));
  assert.equal(p.FRAME3.len, koffi.offsetof(p.tpacket3_hdr, 'tp_len'));
  assert.equal(p.FRAME3.status, koffi.offsetof(p.tpacket3_hdr, 'tp_status'));
  assert.equal(p.FRAME3.mac, koffi.offsetof(p.tpacket3_hdr, 'tp_mac'));
  assert.equal(p.FRAME3.net, koffi.offsetof(p.tpacket3_hdr, 'tp_net'));
  assert.equal(p.FRAME3.vlanTci, hv1 + koffi.offsetof(p.tpacket_hdr_variant1, 'tp_vlan_tci'));
  assert.equal(p.FRAME3.vlanTpid, hv1 + koffi.offsetof(p.tpacket_hdr_variant1, 'tp_vlan_tpid'));
  assert.equal(p.FRAME3.size, koffi.sizeof(p.tpacket3_hdr));
  assert.equal(p.TX_DATA_OFFSET, p.TPACKET3_HDRLEN - koffi.sizeof(p.sockaddr_ll));
});
