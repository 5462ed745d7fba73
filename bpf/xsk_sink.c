// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xsk_sink: drop every frame at the driver. Benchmarks attach it where forwarded traffic ends,
 * so that the cost measured is the forwarder's, not a receiving stack's.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xsk_sink(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "Dual MIT/GPL";
