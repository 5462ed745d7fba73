// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xsk_minimal: the least an AF_XDP receiver's XDP program can do, as a yardstick for the cost of
 * xsk_redirect.c's features (bench: `C minimal native`). Ethernet, IPv4 (any IHL), UDP; the
 * destination port's entry in `ports` (the same 65,536-entry array as xsk_redirect.c) set means
 * redirect to the queue's socket in `xsks`. No VLAN tags, no IPv6, no fragment check, no
 * counters, no receive stamp. Everything else is XDP_PASS. Same map and program names as
 * xsk_redirect.c, so bench/c/xsk_ref.c loads either (--obj).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;
	__u32 dport;
	__u8 *steer;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	dport = bpf_ntohs(udp->dest);
	steer = bpf_map_lookup_elem(&ports, &dport);
	if (!steer || !*steer)
		return XDP_PASS;
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
