// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xsk_gen: the traffic generator's XDP program. Run through BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES, the kernel feeds it copies of a frame template as if received on
 * an interface, and XDP_TX sends each one back out of that interface at driver speed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xsk_gen(struct xdp_md *ctx)
{
	return XDP_TX;
}

char _license[] SEC("license") = "Dual MIT/GPL";
