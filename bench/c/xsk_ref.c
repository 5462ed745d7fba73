// SPDX-License-Identifier: MIT
/*
 * xsk_ref: the C yardstick for xsk's TypeScript datapath, on libxdp's AF_XDP rings.
 *
 *   xsk_ref rxdrop|l2fwd --iface IF --queue N --port P --mode native|generic --duration S
 *           [--fwd-dst IP:PORT --fwd-mac MAC] [--busy-poll US] [--obj dist/bpf/xsk_redirect.o]
 *           [--stamp-every N] [--touch]
 *
 * It runs the same kernel program as xsk: it loads dist/bpf/xsk_redirect.o itself with libbpf,
 * puts P in the `ports` map and its socket in the `xsks` XSKMAP at N, and attaches the program
 * with BPF_LINK_CREATE (closing the link fd, or the process dying, detaches it). From libxdp it
 * uses only the UMEM/socket/ring helpers: the socket is created with
 * XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, so libxdp loads no program and needs no bpffs.
 *
 * --obj dist/bpf/xsk_minimal.o --touch is the minimal receiver (bench: `C minimal native`): a
 * program that only matches the port and redirects, and one byte of each frame read, nothing
 * parsed, no stamp looked for. --stamp-every N sets xsk_redirect.o's load-time sampling as xsk's
 * --latency-sample does (0: no stamps; default: the object's, xsk's default).
 *
 * rxdrop: every frame is parsed as xsk's parser does (Ethernet, up to two VLAN tags, IPv4 with
 * its header checksum verified / IPv6, UDP lengths), counted, and its frame goes back to FILL.
 * l2fwd: a valid IPv4 datagram to P is rewritten in place as src/forward/stage.ts does (MACs,
 * TTL - 1, destination address and port, RFC 1624 checksum updates) and sent from the same
 * frame on TX; completions go back to FILL.
 *
 * Same geometry as xsk's defaults: 4096-byte frames, RX/TX/COMP rings of 2048, FILL of 4096,
 * 8192 frames, batches of 64. When RX is empty it keeps looking for --busy-poll µs (default
 * 200, xsk's default) and then sleeps in poll(), as xsk does. Bounded by --duration and SIGINT/SIGTERM; prints one JSON line.
 *
 * Latency, as xsk measures it (src/rx/rx-clock.ts): the XDP program stamps the 16 bytes in front
 * of each redirected frame (struct xsk_meta in bpf/xsk_redirect.c: u64 bpf_ktime_get_ns(), u32
 * magic); once per batch CLOCK_MONOTONIC is read, and each stamped frame records now - stamp
 * (its magic cleared, so a stale stamp is never read again) in a log-linear histogram (128
 * buckets per power of two: within 0.8 %, bounded memory). The JSON has
 * latency.rx_to_user {count, p50_us, p90_us, p99_us, p99.9_us, max_us} as xsk's summary, plus
 * first_us: the first frame's (after an idle start, how long the receiver took to wake).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#define RING_SIZE 2048
#define FILL_SIZE (2 * RING_SIZE)
#define NUM_FRAMES (4 * RING_SIZE)
#define FRAME_SIZE 4096
#define BATCH 64

/* ---------------------------------------------------------------- options */

enum app { RXDROP, L2FWD };

static struct {
	enum app app;
	const char *iface;
	unsigned ifindex;
	unsigned queue;
	unsigned port;
	int native;
	double duration;
	unsigned busy_poll_us;
	const char *obj;
	int stamp_every; /* -1: the object's default */
	int touch;
	int have_fwd;
	uint8_t fwd_addr[4]; /* network order */
	uint16_t fwd_port;   /* host order */
	uint8_t fwd_mac[6];
	uint8_t src_mac[6];
} opt = { .busy_poll_us = 200, .stamp_every = -1 };

static void usage_exit(const char *why)
{
	fprintf(stderr, "xsk_ref: %s\nusage: xsk_ref rxdrop|l2fwd --iface IF --queue N --port P "
			"--mode native|generic --duration S [--fwd-dst IP:PORT --fwd-mac MAC] [--busy-poll US] [--obj FILE] "
			"[--stamp-every N] [--touch]\n",
		why);
	exit(2);
}

static unsigned long parse_uint(const char *flag, const char *v, unsigned long max)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || !*v || *end || n > max) {
		fprintf(stderr, "xsk_ref: %s: expected an integer from 0 to %lu, got \"%s\"\n", flag, max, v);
		exit(2);
	}
	return n;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned m[6];
	char tail;

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	return 0;
}

static void parse_args(int argc, char **argv)
{
	const char *fwd_dst = NULL, *fwd_mac = NULL, *mode = NULL;
	static char objbuf[PATH_MAX];

	if (argc < 2)
		usage_exit("missing the command");
	if (!strcmp(argv[1], "rxdrop"))
		opt.app = RXDROP;
	else if (!strcmp(argv[1], "l2fwd"))
		opt.app = L2FWD;
	else
		usage_exit("the command must be rxdrop or l2fwd");
	opt.port = 0;
	for (int i = 2; i < argc; i += 2) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(f, "--touch")) {
			opt.touch = 1;
			i--;
			continue;
		}
		if (!v) {
			fprintf(stderr, "xsk_ref: %s: missing value\n", f);
			exit(2);
		}
		if (!strcmp(f, "--iface"))
			opt.iface = v;
		else if (!strcmp(f, "--queue"))
			opt.queue = parse_uint(f, v, 255);
		else if (!strcmp(f, "--port"))
			opt.port = parse_uint(f, v, 65535);
		else if (!strcmp(f, "--mode"))
			mode = v;
		else if (!strcmp(f, "--duration"))
			opt.duration = parse_uint(f, v, 3600);
		else if (!strcmp(f, "--fwd-dst"))
			fwd_dst = v;
		else if (!strcmp(f, "--fwd-mac"))
			fwd_mac = v;
		else if (!strcmp(f, "--busy-poll"))
			opt.busy_poll_us = parse_uint(f, v, 1000000);
		else if (!strcmp(f, "--obj"))
			opt.obj = v;
		else if (!strcmp(f, "--stamp-every")) {
			opt.stamp_every = parse_uint(f, v, 65536);
			if (opt.stamp_every & (opt.stamp_every - 1))
				usage_exit("--stamp-every must be 0 or a power of two");
		}
		else {
			fprintf(stderr, "xsk_ref: unknown flag %s\n", f);
			exit(2);
		}
	}
	if (!opt.iface)
		usage_exit("--iface is required");
	opt.ifindex = if_nametoindex(opt.iface);
	if (!opt.ifindex) {
		fprintf(stderr, "xsk_ref: --iface: no interface named \"%s\"\n", opt.iface);
		exit(2);
	}
	if (!opt.port)
		usage_exit("--port is required (1-65535)");
	if (!mode || (strcmp(mode, "native") && strcmp(mode, "generic")))
		usage_exit("--mode must be native or generic");
	opt.native = !strcmp(mode, "native");
	if (!opt.duration)
		usage_exit("--duration is required (1-3600 s)");
	if (opt.touch && opt.app != RXDROP)
		usage_exit("--touch is for rxdrop");
	if (opt.app == L2FWD) {
		char addr[64], *colon;

		if (!fwd_dst || !fwd_mac)
			usage_exit("l2fwd needs --fwd-dst IP:PORT and --fwd-mac MAC");
		snprintf(addr, sizeof(addr), "%s", fwd_dst);
		colon = strrchr(addr, ':');
		if (!colon)
			usage_exit("--fwd-dst: expected IPv4:PORT");
		*colon = 0;
		if (inet_pton(AF_INET, addr, opt.fwd_addr) != 1)
			usage_exit("--fwd-dst: expected an IPv4 address before the ':'");
		opt.fwd_port = parse_uint("--fwd-dst port", colon + 1, 65535);
		if (parse_mac(fwd_mac, opt.fwd_mac))
			usage_exit("--fwd-mac: expected aa:bb:cc:dd:ee:ff");
		opt.have_fwd = 1;
	}
	if (!opt.obj) {
		/* build/bench/xsk_ref -> dist/bpf/xsk_redirect.o */
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n < 0) {
			perror("xsk_ref: readlink(/proc/self/exe)");
			exit(1);
		}
		exe[n] = 0;
		snprintf(objbuf, sizeof(objbuf), "%s/../../dist/bpf/xsk_redirect.o", dirname(exe));
		opt.obj = objbuf;
	}
}

/* ---------------------------------------------------------------- parsing */

/* What the parser leaves behind, like src/frame/parse.ts's fields. */
struct parsed {
	unsigned vlans, vlan_id0, ether_type, l3, ip_version, ip_hlen, ip_end, proto, ttl, tos;
	uint32_t src4, dst4;
	unsigned src_addr, dst_addr, l4, src_port, dst_port, udp_len, udp_csum, payload, payload_len;
};

enum { PARSE_OK = 0, BAD_ETH, BAD_VLAN, BAD_IP, BAD_IP_CSUM, FRAGMENT, NOT_UDP, BAD_UDP, NREASONS };
static const char *reason_names[NREASONS] = { "ok", "ethernet", "vlan", "ip", "ipv4_checksum", "fragment", "not_udp", "udp" };

static inline unsigned be16(const uint8_t *p)
{
	return (p[0] << 8) | p[1];
}

static inline uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

static int parse(const uint8_t *b, unsigned len, struct parsed *r)
{
	unsigned p = 12, type, l3, end;

	memset(r, 0, sizeof(*r));
	if (len < 14)
		return BAD_ETH;
	type = be16(b + p);
	while (type == 0x8100 || type == 0x88a8) {
		if (r->vlans == 2)
			return BAD_VLAN;
		if (p + 6 > len)
			return BAD_VLAN;
		if (r->vlans == 0)
			r->vlan_id0 = be16(b + p + 2) & 0xfff;
		r->vlans++;
		p += 4;
		type = be16(b + p);
	}
	r->ether_type = type;
	l3 = r->l3 = p + 2;
	if (type == 0x0800) {
		unsigned hlen, total;
		uint32_t sum = 0;

		if (l3 + 20 > len || b[l3] >> 4 != 4)
			return BAD_IP;
		hlen = (b[l3] & 15) * 4;
		if (hlen < 20 || l3 + hlen > len)
			return BAD_IP;
		r->ip_version = 4;
		r->ip_hlen = hlen;
		r->tos = b[l3 + 1];
		r->ttl = b[l3 + 8];
		r->proto = b[l3 + 9];
		r->src_addr = l3 + 12;
		r->dst_addr = l3 + 16;
		r->src4 = be32(b + l3 + 12);
		r->dst4 = be32(b + l3 + 16);
		total = be16(b + l3 + 2);
		if (total < hlen || l3 + total > len)
			return BAD_IP;
		end = r->ip_end = l3 + total;
		for (unsigned i = l3; i < l3 + hlen; i += 2)
			sum += be16(b + i);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		if (sum != 0xffff)
			return BAD_IP_CSUM;
		if (be16(b + l3 + 6) & 0x3fff)
			return FRAGMENT;
		if (r->proto != 17)
			return NOT_UDP;
		r->l4 = l3 + hlen;
	} else if (type == 0x86dd) {
		unsigned plen;

		if (l3 + 40 > len || b[l3] >> 4 != 6)
			return BAD_IP;
		r->ip_version = 6;
		r->ip_hlen = 40;
		r->tos = ((b[l3] & 15) << 4) | (b[l3 + 1] >> 4);
		r->proto = b[l3 + 6];
		r->ttl = b[l3 + 7];
		r->src_addr = l3 + 8;
		r->dst_addr = l3 + 24;
		plen = be16(b + l3 + 4);
		if (l3 + 40 + plen > len)
			return BAD_IP;
		end = r->ip_end = l3 + 40 + plen;
		if (r->proto == 44)
			return FRAGMENT;
		if (r->proto != 17)
			return NOT_UDP;
		r->l4 = l3 + 40;
	} else {
		return BAD_IP;
	}
	if (r->l4 + 8 > end)
		return BAD_UDP;
	r->src_port = be16(b + r->l4);
	r->dst_port = be16(b + r->l4 + 2);
	r->udp_len = be16(b + r->l4 + 4);
	r->udp_csum = be16(b + r->l4 + 6);
	if (r->udp_len < 8 || r->l4 + r->udp_len > end)
		return BAD_UDP;
	r->payload = r->l4 + 8;
	r->payload_len = r->udp_len - 8;
	return PARSE_OK;
}

/* ---------------------------------------------------------------- rewrite (as src/forward/stage.ts) */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
static inline unsigned csum_replace16(unsigned csum, unsigned old, unsigned new)
{
	uint32_t s = (~csum & 0xffff) + (~old & 0xffff) + (new & 0xffff);

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static inline void set16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void rewrite_ipv4(uint8_t *b, const struct parsed *r)
{
	unsigned l3 = r->l3, ipc, udpc = r->udp_csum, ttlw, udp_on = udpc != 0;

	memcpy(b, opt.fwd_mac, 6);
	memcpy(b + 6, opt.src_mac, 6);
	ipc = be16(b + l3 + 10);
	ttlw = be16(b + l3 + 8);
	ipc = csum_replace16(ipc, ttlw, ttlw - 0x100);
	set16(b + l3 + 8, ttlw - 0x100);
	for (int i = 0; i < 2; i++) {
		unsigned at = r->dst_addr + 2 * i, old = be16(b + at), nw = be16(opt.fwd_addr + 2 * i);

		if (old == nw)
			continue;
		ipc = csum_replace16(ipc, old, nw);
		if (udp_on)
			udpc = csum_replace16(udpc, old, nw);
		set16(b + at, nw);
	}
	set16(b + l3 + 10, ipc);
	if (udp_on)
		udpc = csum_replace16(udpc, r->dst_port, opt.fwd_port);
	set16(b + r->l4 + 2, opt.fwd_port);
	if (udp_on)
		set16(b + r->l4 + 6, udpc == 0 ? 0xffff : udpc);
}

/* ---------------------------------------------------------------- latency (as src/rx/rx-clock.ts) */

#define XSK_META_MAGIC 0x31b7e5c3u
#define META_SIZE 16

/*
 * Log-linear histogram of ns: values below 256 have a bucket each; above, 128 buckets per power
 * of two (the value's top 8 bits), so a bucket is at most 1/128 of its value wide. Values are
 * clamped at 2^41 ns (~37 min).
 */
#define H_SUB 128
#define H_MAX_BITS 41
#define H_BUCKETS (2 * H_SUB + (H_MAX_BITS - 8) * H_SUB)

static struct {
	uint64_t buckets[H_BUCKETS];
	uint64_t count, max_ns, first_ns, unstamped;
	int have_first;
} lat;

static inline unsigned h_index(uint64_t v)
{
	unsigned msb, shift;

	if (v >= (1ull << H_MAX_BITS))
		v = (1ull << H_MAX_BITS) - 1;
	if (v < 2 * H_SUB)
		return v;
	msb = 63 - __builtin_clzll(v); /* >= 8 */
	shift = msb - 7;	       /* v >> shift is in [128, 256) */
	return 2 * H_SUB + (shift - 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
}

/* The highest value that lands in bucket i (as HDR histograms report a percentile). */
static uint64_t h_value(unsigned i)
{
	unsigned shift;

	if (i < 2 * H_SUB)
		return i;
	shift = (i - 2 * H_SUB) / H_SUB + 1;
	return (((uint64_t)((i - 2 * H_SUB) % H_SUB + H_SUB) + 1) << shift) - 1;
}

static inline void lat_record(int64_t ns)
{
	uint64_t v = ns > 0 ? (uint64_t)ns : 0; /* clock skew between CPUs: 0 */

	lat.buckets[h_index(v)]++;
	lat.count++;
	if (v > lat.max_ns)
		lat.max_ns = v;
	if (!lat.have_first) {
		lat.have_first = 1;
		lat.first_ns = v;
	}
}

static uint64_t lat_percentile(double p)
{
	uint64_t want, seen = 0;

	if (!lat.count)
		return 0;
	want = (uint64_t)(p / 100 * lat.count + 0.999999);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += lat.buckets[i];
		if (seen >= want) {
			uint64_t v = h_value(i);
			return v < lat.max_ns ? v : lat.max_ns;
		}
	}
	return lat.max_ns;
}

/* The frame's kernel stamp, consumed; 0 when it has none. */
static inline uint64_t take_stamp(uint8_t *pkt, uint64_t addr)
{
	uint8_t *m = pkt - META_SIZE;
	uint32_t magic;
	uint64_t ns;

	if ((addr % FRAME_SIZE) < META_SIZE)
		return 0;
	memcpy(&magic, m + 8, 4);
	if (magic != XSK_META_MAGIC)
		return 0;
	m[8] = 0;
	memcpy(&ns, m, 8);
	return ns;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---------------------------------------------------------------- state */

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static struct {
	uint64_t rx_packets, rx_bytes, rx_datagrams, rx_payload_bytes, invalid[NREASONS];
	uint64_t tx_packets, tx_ring_full, not_forwarded, tx_kick_errors, field_sum;
} st;

static void *umem_area;
static struct xsk_umem *umem;
static struct xsk_socket *xsk;
static struct xsk_ring_prod fill, tx;
static struct xsk_ring_cons comp, rx;
static int xsk_fd = -1;
/* The XDP program stamps in the frame's head (this kernel refuses bpf_xdp_adjust_meta). */
static int head_stamps;
static uint64_t free_frames[NUM_FRAMES];
static unsigned nfree;
static unsigned tx_outstanding;

static void die_err(const char *what, int err)
{
	fprintf(stderr, "xsk_ref: %s: %s\n", what, strerror(err < 0 ? -err : err));
}

static void refill(void)
{
	uint32_t idx;
	unsigned want = xsk_prod_nb_free(&fill, nfree);

	if (want > nfree)
		want = nfree;
	if (!want)
		return;
	want = xsk_ring_prod__reserve(&fill, want, &idx);
	for (unsigned i = 0; i < want; i++)
		*xsk_ring_prod__fill_addr(&fill, idx + i) = free_frames[--nfree];
	xsk_ring_prod__submit(&fill, want);
}

/* Descriptors on TX that the kernel has not taken yet. */
static inline unsigned tx_in_ring(void)
{
	return tx.cached_prod - __atomic_load_n(tx.consumer, __ATOMIC_ACQUIRE);
}

/*
 * Wake the kernel for TX when it asks. In copy mode one sendto() sends at most 32 frames, so
 * kick until it has taken everything on the ring (bounded; it stops on EAGAIN/EBUSY/ENOBUFS,
 * which mean "later").
 */
static void kick_tx(void)
{
	for (int i = 0; i < RING_SIZE / 32 + 1 && tx_in_ring(); i++) {
		if (!xsk_ring_prod__needs_wakeup(&tx))
			break;
		if (sendto(xsk_fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EINTR) {
			if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
				st.tx_kick_errors++;
			break;
		}
	}
}

static void reap_completions(void)
{
	uint32_t idx;
	unsigned n = xsk_ring_cons__peek(&comp, RING_SIZE, &idx);

	for (unsigned i = 0; i < n; i++)
		free_frames[nfree++] = *xsk_ring_cons__comp_addr(&comp, idx + i);
	if (n)
		xsk_ring_cons__release(&comp, n);
	tx_outstanding -= n;
}

/* One batch off RX. Returns how many frames it took. */
static unsigned rx_batch(void)
{
	uint32_t idx, tidx = 0;
	uint64_t fwd[BATCH], batch_ns;
	unsigned n, nfwd = 0, sent;
	struct parsed r;

	n = BATCH;
	if (opt.app == L2FWD) {
		/* Take off RX only what TX has room for: past that the kernel drops at RX, before we
		 * have spent anything on the frame. */
		n = xsk_prod_nb_free(&tx, BATCH);
		if (n < BATCH) {
			kick_tx();
			reap_completions();
			n = xsk_prod_nb_free(&tx, BATCH);
		}
		if (n > BATCH)
			n = BATCH;
	}
	n = xsk_ring_cons__peek(&rx, n, &idx);
	if (!n)
		return 0;
	batch_ns = now_ns(); /* once per batch, as xsk's RxClock.beginBatch() */
	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, idx + i);
		uint64_t addr = d->addr;
		uint32_t len = d->len;
		uint8_t *pkt = xsk_umem__get_data(umem_area, addr);
		uint64_t stamp;
		int why;

		/* A stamp in the frame's head: its last u32 is 0 where a frame has its EtherType. */
		if (head_stamps && len >= META_SIZE + 14 && !(pkt[12] | pkt[13])) {
			addr += META_SIZE;
			len -= META_SIZE;
			pkt += META_SIZE;
		}

		if (opt.touch) {
			/* The minimal receiver: one byte of the frame read, the frame recycled. */
			st.rx_packets++;
			st.rx_bytes += len;
			st.field_sum += pkt[0];
			free_frames[nfree++] = addr;
			continue;
		}
		stamp = take_stamp(pkt, addr);
		if (stamp)
			lat_record((int64_t)(batch_ns - stamp));
		else
			lat.unstamped++;
		why = parse(pkt, len, &r);

		st.rx_packets++;
		st.rx_bytes += len;
		if (why != PARSE_OK) {
			st.invalid[why]++;
		} else {
			st.rx_datagrams++;
			st.rx_payload_bytes += r.payload_len;
			/* Touch what the parser found, as xsk's counting handler reads its fields. */
			st.field_sum += r.src4 ^ r.dst4 ^ r.src_port ^ r.dst_port ^ r.ttl ^ r.tos ^ r.vlan_id0;
		}
		if (opt.app == L2FWD && why == PARSE_OK && r.ip_version == 4 && r.dst_port == opt.port && r.ttl > 1) {
			rewrite_ipv4(pkt, &r);
			fwd[nfwd++] = addr | ((uint64_t)len << 48);
		} else {
			if (opt.app == L2FWD)
				st.not_forwarded++;
			free_frames[nfree++] = addr;
		}
	}
	xsk_ring_cons__release(&rx, n);
	if (nfwd) {
		sent = xsk_ring_prod__reserve(&tx, nfwd, &tidx);
		for (unsigned i = 0; i < sent; i++) {
			struct xdp_desc *t = xsk_ring_prod__tx_desc(&tx, tidx + i);

			t->addr = fwd[i] & ((1ULL << 48) - 1);
			t->len = fwd[i] >> 48;
			t->options = 0;
		}
		for (unsigned i = sent; i < nfwd; i++) {
			st.tx_ring_full++;
			free_frames[nfree++] = fwd[i] & ((1ULL << 48) - 1);
		}
		if (sent) {
			xsk_ring_prod__submit(&tx, sent);
			tx_outstanding += sent;
			st.tx_packets += sent;
			kick_tx();
		}
	}
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int iface_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Open opt.obj and set xsk_redirect.c's xsk_config (.rodata: u32 stamp, u32 sample_mask; as
 * src/xdp/program.ts) from --stamp-every, or with `head`, the object's own sampling with the
 * stamp in the frame's head (stamp = 2). NULL (said why) on failure.
 */
static struct bpf_object *open_program(int head)
{
	struct bpf_object *obj = bpf_object__open_file(opt.obj, NULL);
	struct bpf_map *m;
	__u32 cfg[2];
	const void *init;
	size_t size = 0;

	if (!obj) {
		fprintf(stderr, "xsk_ref: bpf_object__open_file(%s): %s (run npm run build)\n", opt.obj, strerror(errno));
		return NULL;
	}
	if (opt.stamp_every < 0 && !head)
		return obj;
	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		size_t len = strlen(name);

		if (len >= 7 && !strcmp(name + len - 7, ".rodata"))
			break;
	}
	if (!m || !(init = bpf_map__initial_value(m, &size)) || size != sizeof(cfg)) {
		fprintf(stderr, "xsk_ref: %s has no 8-byte .rodata (xsk_config)\n", opt.obj);
		bpf_object__close(obj);
		return NULL;
	}
	memcpy(cfg, init, sizeof(cfg));
	if (opt.stamp_every >= 0) {
		cfg[0] = opt.stamp_every > 0;
		cfg[1] = opt.stamp_every > 0 ? opt.stamp_every - 1 : 0;
	}
	if (head && cfg[0])
		cfg[0] = 2;
	if (bpf_map__set_initial_value(m, cfg, sizeof(cfg))) {
		fprintf(stderr, "xsk_ref: %s: can't set .rodata\n", opt.obj);
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	struct bpf_map *m_xsks, *m_ports, *m_counters;
	int link_fd = -1, err, ret = 1;
	__u32 existing = 0;
	double t0, deadline, elapsed, idle_since = 0;

	parse_args(argc, argv);
	libbpf_set_print(quiet_print);
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll() returns EINTR */

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	{
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		setrlimit(RLIMIT_MEMLOCK, &rl); /* only matters before 5.11 */
	}
	if (opt.app == L2FWD && (err = iface_mac(opt.iface, opt.src_mac))) {
		die_err("SIOCGIFHWADDR", err);
		return 1;
	}
	/* Like xsk without --force: refuse an interface that already has an XDP program. */
	for (int f = 0; f < 2; f++) {
		err = bpf_xdp_query_id(opt.ifindex, f ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE, &existing);
		if (err == 0 && existing) {
			fprintf(stderr, "xsk_ref: %s already has an XDP program (id %u); refusing to replace it\n", opt.iface, existing);
			return 1;
		}
	}

	/* Our program, loaded by libbpf; with stamps in the frame's head where this kernel refuses
	 * bpf_xdp_adjust_meta (as src/xdp/program.ts does). */
	obj = open_program(0);
	if (!obj)
		return 1;
	if ((err = bpf_object__load(obj))) {
		int retried = 0;

		if (err == -EINVAL && opt.stamp_every != 0) {
			bpf_object__close(obj);
			obj = open_program(1);
			if (!obj)
				return 1;
			retried = !bpf_object__load(obj);
		}
		if (!retried) {
			die_err("bpf_object__load", err);
			goto out;
		}
		head_stamps = 1;
		fprintf(stderr, "xsk_ref: this kernel refuses bpf_xdp_adjust_meta: stamps in the frame's head\n");
	}
	prog = bpf_object__find_program_by_name(obj, "xsk_redirect");
	m_xsks = bpf_object__find_map_by_name(obj, "xsks");
	m_ports = bpf_object__find_map_by_name(obj, "ports");
	m_counters = bpf_object__find_map_by_name(obj, "counters"); /* not in xsk_minimal.o */
	if (!prog || !m_xsks || !m_ports) {
		fprintf(stderr, "xsk_ref: %s lacks the program xsk_redirect or a map (xsks, ports)\n", opt.obj);
		goto out;
	}
	{
		__u32 key = opt.port; /* the ports map is an array indexed by port */
		__u8 one = 1;

		if ((err = bpf_map_update_elem(bpf_map__fd(m_ports), &key, &one, 0))) {
			die_err("bpf_map_update_elem(ports)", err);
			goto out;
		}
	}

	/* UMEM and socket through libxdp, its program loading inhibited. */
	umem_area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (umem_area == MAP_FAILED) {
		die_err("mmap(UMEM)", errno);
		umem_area = NULL;
		goto out;
	}
	{
		struct xsk_umem_config ucfg = {
			.fill_size = FILL_SIZE,
			.comp_size = RING_SIZE,
			.frame_size = FRAME_SIZE,
			.frame_headroom = 0,
			.flags = 0,
		};
		struct xsk_socket_config scfg = {
			.rx_size = RING_SIZE,
			.tx_size = RING_SIZE,
			.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
			.xdp_flags = 0,
			.bind_flags = XDP_USE_NEED_WAKEUP,
		};

		if ((err = xsk_umem__create(&umem, umem_area, (__u64)NUM_FRAMES * FRAME_SIZE, &fill, &comp, &ucfg))) {
			die_err("xsk_umem__create", err);
			umem = NULL;
			goto out;
		}
		if ((err = xsk_socket__create(&xsk, opt.iface, opt.queue, umem, &rx, opt.app == L2FWD ? &tx : NULL, &scfg))) {
			die_err("xsk_socket__create", err);
			xsk = NULL;
			goto out;
		}
	}
	xsk_fd = xsk_socket__fd(xsk);
	for (unsigned i = 0; i < NUM_FRAMES; i++)
		free_frames[nfree++] = (uint64_t)i * FRAME_SIZE;
	refill();
	{
		__u32 key = opt.queue, val = xsk_fd;

		if ((err = bpf_map_update_elem(bpf_map__fd(m_xsks), &key, &val, 0))) {
			die_err("bpf_map_update_elem(xsks)", err);
			goto out;
		}
	}
	{
		LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = opt.native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);

		link_fd = bpf_link_create(bpf_program__fd(prog), opt.ifindex, BPF_XDP, &lopts);
		if (link_fd < 0) {
			fprintf(stderr, "xsk_ref: bpf_link_create (%s mode on %s): %s\n", opt.native ? "native" : "generic",
				opt.iface, strerror(-link_fd));
			goto out;
		}
	}
	fprintf(stderr, "xsk_ref up: %s on %s queue %u port %u, %s mode\n", opt.app == L2FWD ? "l2fwd" : "rxdrop",
		opt.iface, opt.queue, opt.port, opt.native ? "native" : "generic");

	t0 = now_s();
	deadline = t0 + opt.duration;
	while (!stop_flag) {
		unsigned got = 0;

		/* Up to 64 batches between clock reads, FILL topped up after each. */
		for (int b = 0; b < 64; b++) {
			unsigned n;

			if (tx_outstanding)
				reap_completions();
			n = rx_batch();
			got += n;
			refill();
			if (n < BATCH)
				break;
		}
		if (now_s() >= deadline)
			break;
		if (got) {
			idle_since = 0;
		} else {
			struct pollfd pfd = { .fd = xsk_fd, .events = POLLIN };
			double t = now_s();

			if (tx_outstanding)
				kick_tx();
			/* Like xsk's --busy-poll: keep looking for a while before going to sleep. */
			if (!idle_since)
				idle_since = t;
			if (t - idle_since < opt.busy_poll_us / 1e6)
				continue;
			/* Sleep until RX has frames (poll() also does the FILL wakeup where the driver
			 * needs it). Short timeout while TX completions are pending. */
			poll(&pfd, 1, tx_outstanding ? 1 : 100);
		}
	}
	/* Drain TX for up to a second so tx_packets means sent. */
	if (opt.app == L2FWD) {
		double until = now_s() + 1;

		while (tx_outstanding && now_s() < until) {
			kick_tx();
			reap_completions();
			if (tx_outstanding)
				usleep(1000);
		}
	}
	elapsed = now_s() - t0;
	close(link_fd); /* the only reference to the link: the program is detached */
	link_fd = -1;

	{
		struct xdp_statistics xs = { 0 };
		socklen_t optlen = sizeof(xs);
		struct rusage ru;
		int ncpus = libbpf_num_possible_cpus();
		static const char *cnames[] = { "seen", "redirected", "passed", "meta_failed" };
		unsigned ncounters = m_counters ? bpf_map__max_entries(m_counters) : 0;
		__u64 csum[4] = { 0 };
		int have_stats = getsockopt(xsk_fd, SOL_XDP, XDP_STATISTICS, &xs, &optlen) == 0;
		double cpu_s;

		getrusage(RUSAGE_SELF, &ru);
		cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		printf("{\"tool\":\"xsk_ref\",\"app\":\"%s\",\"mode\":\"%s\",\"iface\":\"%s\",\"queue\":%u,\"port\":%u,"
		       "\"duration_s\":%.3f,\"rx_packets\":%llu,\"rx_bytes\":%llu,\"rx_datagrams\":%llu,\"rx_payload_bytes\":%llu,",
		       opt.app == L2FWD ? "l2fwd" : "rxdrop", opt.native ? "native" : "generic", opt.iface, opt.queue, opt.port,
		       elapsed, (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
		       (unsigned long long)st.rx_datagrams, (unsigned long long)st.rx_payload_bytes);
		printf("\"invalid\":{");
		for (int i = 1; i < NREASONS; i++)
			printf("%s\"%s\":%llu", i > 1 ? "," : "", reason_names[i], (unsigned long long)st.invalid[i]);
		printf("},\"tx_packets\":%llu,\"tx_drops\":{\"ring_full\":%llu,\"not_forwarded\":%llu,\"unsent\":%u,\"kick_errors\":%llu},",
		       (unsigned long long)st.tx_packets, (unsigned long long)st.tx_ring_full,
		       (unsigned long long)st.not_forwarded, tx_outstanding,
		       (unsigned long long)st.tx_kick_errors);
		printf("\"xdp_stats\":{");
		if (have_stats) {
			printf("\"rx_dropped\":%llu,\"rx_invalid_descs\":%llu,\"tx_invalid_descs\":%llu",
			       (unsigned long long)xs.rx_dropped, (unsigned long long)xs.rx_invalid_descs,
			       (unsigned long long)xs.tx_invalid_descs);
			if (optlen >= offsetof(struct xdp_statistics, tx_ring_empty_descs) + sizeof(__u64))
				printf(",\"rx_ring_full\":%llu,\"rx_fill_ring_empty_descs\":%llu,\"tx_ring_empty_descs\":%llu",
				       (unsigned long long)xs.rx_ring_full, (unsigned long long)xs.rx_fill_ring_empty_descs,
				       (unsigned long long)xs.tx_ring_empty_descs);
		}
		printf("},\"xdp_program\":{");
		for (unsigned k = 1; k < ncounters && k < 4 && ncpus > 0; k++) {
			__u64 vals[ncpus];

			if (bpf_map_lookup_elem(bpf_map__fd(m_counters), &k, vals))
				continue;
			for (int c = 0; c < ncpus; c++)
				csum[k] += vals[c];
		}
		/* The program writes one counter per frame: seen is redirected + passed. */
		csum[0] = csum[1] + csum[2];
		if (m_counters)
			for (unsigned k = 0; k < 4; k++)
				printf("%s\"%s\":%llu", k ? "," : "", cnames[k], (unsigned long long)csum[k]);
		printf("},\"latency\":{\"source\":\"kernel\",\"unstamped\":%llu", (unsigned long long)lat.unstamped);
		if (lat.count)
			printf(",\"rx_to_user\":{\"count\":%llu,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p99.9_us\":%.2f,"
			       "\"max_us\":%.2f,\"first_us\":%.2f}",
			       (unsigned long long)lat.count, lat_percentile(50) / 1e3, lat_percentile(90) / 1e3, lat_percentile(99) / 1e3,
			       lat_percentile(99.9) / 1e3, lat.max_ns / 1e3, lat.first_ns / 1e3);
		printf("},\"field_sum\":%llu,\"cpu_s\":%.4f,\"user_s\":%.4f,\"sys_s\":%.4f}\n", (unsigned long long)st.field_sum,
		       cpu_s, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
		fflush(stdout);
	}
	ret = 0;
out:
	if (link_fd >= 0)
		close(link_fd);
	if (xsk)
		xsk_socket__delete(xsk);
	if (umem && (err = xsk_umem__delete(umem)))
		die_err("xsk_umem__delete", err);
	if (umem_area)
		munmap(umem_area, (size_t)NUM_FRAMES * FRAME_SIZE);
	bpf_object__close(obj);
	return ret;
}
