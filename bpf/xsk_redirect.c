// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xsk_redirect: steer UDP datagrams for chosen destination ports to AF_XDP sockets.
 *
 * For every frame on the interface: parse Ethernet (up to two VLAN tags), IPv4 (any valid IHL)
 * or IPv6 (UDP as the next header), then UDP. If the destination port's entry in `ports` is set and
 * `xsks` holds a socket for the frame's RX queue, the frame is redirected to that socket.
 * Everything else (SSH, ping, ARP, other UDP, fragments, anything we cannot parse) is XDP_PASS:
 * the host's own traffic is never touched.
 *
 * Before a redirect the program may stamp the frame's metadata area (bpf_xdp_adjust_meta) with
 * the kernel receive time (bpf_ktime_get_ns, CLOCK_MONOTONIC) and a magic word, so userspace
 * can measure latency from the moment the frame arrived; AF_XDP copies the metadata area in
 * front of the frame, in copy mode too. Where the driver has no metadata area the frame goes on
 * unstamped and `meta_failed` counts it.
 * Some kernels' verifiers refuse bpf_xdp_adjust_meta to XDP programs altogether (seen on a
 * 6.18 build: "program of this type cannot use helper bpf_xdp_adjust_meta#54"). There the
 * loader sets stamp = 2 and the stamp goes *into* the frame: bpf_xdp_adjust_head grows the
 * frame by the same 16 bytes at its front, so the socket receives stamp + frame. The stamp's
 * last u32 is 0 where an unstamped frame has its EtherType (never 0 in a frame this program
 * redirects), which is how userspace tells the two apart and skips the 16 bytes; the UMEM then
 * looks as in the metadata case (stamp right before the frame).
 * Stamping every frame held the kernel's side to two thirds of its rate on veth (~40 ns a frame,
 * mostly the clock read), so it is sampled: `xsk_config` (read-only, set by userspace before the
 * program is loaded, so the verifier drops the code that is off) says whether to stamp at all and
 * which frames: those whose CPU's `redirected` count, before this frame, is a multiple of N.
 *
 * Counters are per CPU (no atomics on the fast path); userspace sums them. At most one counter
 * is written per frame: `seen` is redirected + passed, summed by userspace. Without stamping
 * (--no-latency) a redirect writes none: the count is there only to pick the frames to stamp,
 * and userspace has the same number from its sockets (frames they took + the kernel's drops for
 * them, XDP_STATISTICS), so a redirected frame costs the program no map write at all.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_QUEUES 256
#define PORT_ENTRIES 65536

enum xsk_counter {
	XSK_SEEN = 0, /* not written: userspace sums redirected + passed */
	XSK_REDIRECTED = 1,
	XSK_PASSED = 2,
	XSK_META_FAILED = 3,
	XSK_COUNTERS,
};

/*
 * Load-time settings (the object's .rodata; src/xdp/program.ts writes them before the load,
 * the verifier then treats them as constants). Layout shared with program.ts: two u32.
 */
const volatile struct {
	__u32 stamp;	   /* 0: never stamp (--no-latency); 1: stamp sampled frames in the metadata
			    * area; 2: in 16 bytes added at the frame's head (see above) */
	__u32 sample_mask; /* N - 1, N a power of two: stamp 1 frame in N (0: every frame) */
} xsk_config = { .stamp = 1, .sample_mask = 63 };

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/*
 * Destination ports (host byte order, the index) whose datagrams go to userspace: 1 = steer,
 * 0 = not. One entry for every port, so any set fits, and a lookup is an index, not a hash.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PORT_ENTRIES);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XSK_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Layout shared with src/rx/rx-clock.ts: 16 bytes right before the frame's first byte. */
#define XSK_META_MAGIC 0x31b7e5c3
struct xsk_meta {
	__u64 rx_ns;
	__u32 magic;
	__u32 reserved;
};

struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
}

static __always_inline int is_vlan(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Returns the UDP header of a datagram we can steer, or NULL. */
static __always_inline struct udphdr *find_udp(void *data, void *end)
{
	struct ethhdr *eth = data;
	void *cursor = eth + 1;
	__u16 proto;

	if (cursor > end)
		return NULL;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vlan = cursor;

		if (!is_vlan(proto))
			break;
		if ((void *)(vlan + 1) > end)
			return NULL;
		proto = vlan->encapsulated_proto;
		cursor = vlan + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;
		__u32 ihl_bytes;

		if ((void *)(ip + 1) > end)
			return NULL;
		if (ip->version != 4 || ip->ihl < 5)
			return NULL;
		/* Fragments: only the first carries the UDP header; let the kernel reassemble. */
		if (ip->frag_off & bpf_htons(0x3fff))
			return NULL;
		if (ip->protocol != IPPROTO_UDP)
			return NULL;
		ihl_bytes = ip->ihl * 4;
		cursor = (void *)ip + ihl_bytes;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;

		if ((void *)(ip6 + 1) > end)
			return NULL;
		if (ip6->version != 6 || ip6->nexthdr != IPPROTO_UDP)
			return NULL;
		cursor = ip6 + 1;
	} else {
		return NULL;
	}

	if (cursor + sizeof(struct udphdr) > end)
		return NULL;
	return cursor;
}

static __always_inline void stamp(struct xdp_md *ctx)
{
	struct xsk_meta *meta;

	/*
	 * Make the metadata area exactly 16 bytes, whatever it was: -16 on a fresh frame (data_meta
	 * is data), 0 where it is already ours (BPF_PROG_TEST_RUN repeats on one buffer, and
	 * repeated adjustments would fail past the kernel's 32-byte limit), so a cost measured with
	 * repeats is this path's.
	 */
	int delta = (int)(ctx->data - ctx->data_meta) - (int)sizeof(*meta);

	if (bpf_xdp_adjust_meta(ctx, delta) != 0) {
		count(XSK_META_FAILED);
		return;
	}
	meta = (void *)(long)ctx->data_meta;
	/* adjust_meta invalidates earlier packet pointers: check against a fresh data. */
	if ((void *)(meta + 1) <= (void *)(long)ctx->data) {
		meta->rx_ns = bpf_ktime_get_ns();
		meta->magic = XSK_META_MAGIC;
		meta->reserved = 0;
	}
}

/*
 * The stamp in the frame's own head (stamp = 2): 16 bytes grown at its front. (With
 * BPF_PROG_TEST_RUN's repeats on one buffer, the next run parses the stamp as Ethernet and
 * passes the frame: a cost measured with repeats is not this path's.)
 */
static __always_inline void stamp_head(struct xdp_md *ctx)
{
	struct xsk_meta *meta;

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*meta)) != 0) {
		count(XSK_META_FAILED);
		return;
	}
	meta = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > (void *)(long)ctx->data_end)
		return;
	meta->rx_ns = bpf_ktime_get_ns();
	meta->magic = XSK_META_MAGIC;
	meta->reserved = 0;
}

SEC("xdp")
int xsk_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *udp;
	__u32 queue = ctx->rx_queue_index;
	__u32 dport, key;
	__u8 *steer;
	__u64 *redirected;

	udp = find_udp(data, end);
	if (!udp)
		goto pass;
	dport = bpf_ntohs(udp->dest);
	steer = bpf_map_lookup_elem(&ports, &dport);
	if (!steer || !*steer)
		goto pass;
	/* XDP_PASS as the flags: no socket on this queue means the kernel keeps the frame. */
	if (bpf_redirect_map(&xsks, queue, XDP_PASS) != XDP_REDIRECT)
		goto pass;
	if (!xsk_config.stamp)
		return XDP_REDIRECT; /* counted by userspace (above); the verifier drops the rest */
	key = XSK_REDIRECTED;
	redirected = bpf_map_lookup_elem(&counters, &key);
	if (!redirected)
		return XDP_REDIRECT;
	if ((*redirected & xsk_config.sample_mask) == 0) {
		if (xsk_config.stamp == 2)
			stamp_head(ctx);
		else
			stamp(ctx);
	}
	*redirected += 1;
	return XDP_REDIRECT;
pass:
	count(XSK_PASSED);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
