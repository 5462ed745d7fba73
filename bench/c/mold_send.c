/*
 * mold_send: the feed benchmark's MoldUDP64 sender, in C.
 *
 * It sends the same packets as src/sandbox/mold-send.ts (moldTestPacket in
 * src/feed/mold-packet.ts; test/netns/mold-send-c.test.ts compares the bytes), but costs a few
 * µs of CPU per packet instead of ~20: on the 2-core sandbox the sender shares a CPU with the
 * subscriber it measures, and whatever it spends the subscriber does not get. Packets go out
 * in bursts through sendmmsg on a connected socket, paced against CLOCK_MONOTONIC.
 *
 *   mold_send --to ADDR --port P --count PACKETS --messages M --size BYTES
 *             [--rate PACKETS_PER_S] [--seconds S] [--stamp] [--session NAME] [--first-seq N]
 *
 * Packet: session (10 bytes, space-padded), sequence of the first message (u64 BE), count
 * (u16 BE), then per message: length (u16 BE) and the message: its sequence (u64 BE), the send
 * time (CLOCK_MONOTONIC ns, u64 BE; 0 without --stamp), then (seq * 7 + j * 31) & 0xff for
 * byte j >= 16. Prints one JSON line: {"sent", "messages", "seconds"}. Bounded by --count and
 * --seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BURST 64
#define MAX_PACKET 65507

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v;
}

static void usage(const char *why)
{
	fprintf(stderr, "mold_send: %s\n", why);
	exit(2);
}

static long number(const char *flag, const char *v)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < 0) {
		fprintf(stderr, "mold_send: %s: not a non-negative integer: %s\n", flag, v);
		exit(2);
	}
	return n;
}

/* Build the packet whose first message has sequence `seq` into `b`; returns its length. */
static size_t build(uint8_t *b, const uint8_t session[10], uint64_t seq, int count, int size, uint64_t send_ns)
{
	int m = size < 16 ? 16 : size;
	memcpy(b, session, 10);
	put64(b + 10, seq);
	put16(b + 18, count);
	uint8_t *p = b + 20;
	for (int k = 0; k < count; k++) {
		uint64_t q = seq + k;
		put16(p, m);
		put64(p + 2, q);
		put64(p + 10, send_ns);
		for (int j = 16; j < m; j++)
			p[2 + j] = (uint8_t)((q * 7 + (uint64_t)j * 31) & 0xff);
		p += 2 + m;
	}
	return p - b;
}

int main(int argc, char **argv)
{
	const char *to = NULL, *session_name = "TEST";
	long port = 0, count = 100, messages = 10, size = 32, rate = 0, first_seq = 1;
	double seconds = 30;
	int stamp = 0;
	static const struct option opts[] = {
		{ "to", required_argument, 0, 't' },	   { "port", required_argument, 0, 'p' },
		{ "count", required_argument, 0, 'c' },	   { "messages", required_argument, 0, 'm' },
		{ "size", required_argument, 0, 's' },	   { "rate", required_argument, 0, 'r' },
		{ "seconds", required_argument, 0, 'S' },  { "stamp", no_argument, 0, 'T' },
		{ "session", required_argument, 0, 'n' },  { "first-seq", required_argument, 0, 'f' },
		{ 0, 0, 0, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': to = optarg; break;
		case 'p': port = number("--port", optarg); break;
		case 'c': count = number("--count", optarg); break;
		case 'm': messages = number("--messages", optarg); break;
		case 's': size = number("--size", optarg); break;
		case 'r': rate = number("--rate", optarg); break;
		case 'S': seconds = atof(optarg); break;
		case 'T': stamp = 1; break;
		case 'n': session_name = optarg; break;
		case 'f': first_seq = number("--first-seq", optarg); break;
		default: usage("unknown option");
		}
	}
	if (!to)
		usage("--to is required");
	if (port < 1 || port > 65535)
		usage("--port must be 1-65535");
	if (messages < 1 || messages > 65534)
		usage("--messages must be 1-65534");
	if (seconds <= 0)
		usage("--seconds must be > 0");
	int m = size < 16 ? 16 : (int)size;
	size_t packet_len = 20 + (size_t)messages * (2 + m);
	if (packet_len > MAX_PACKET)
		usage("--messages x --size does not fit in a datagram");

	uint8_t session[10];
	memset(session, ' ', sizeof session);
	memcpy(session, session_name, strnlen(session_name, 10));

	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr;
	memset(&addr, 0, sizeof addr);
	socklen_t addr_len;
	int family;
	if (inet_pton(AF_INET, to, &addr.v4.sin_addr) == 1) {
		family = AF_INET;
		addr.v4.sin_family = AF_INET;
		addr.v4.sin_port = htons(port);
		addr_len = sizeof addr.v4;
	} else if (inet_pton(AF_INET6, to, &addr.v6.sin6_addr) == 1) {
		family = AF_INET6;
		addr.v6.sin6_family = AF_INET6;
		addr.v6.sin6_port = htons(port);
		addr_len = sizeof addr.v6;
	} else {
		usage("--to is not an IPv4 or IPv6 address");
	}
	int fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		perror("mold_send: socket");
		return 1;
	}

	static uint8_t bufs[BURST][MAX_PACKET];
	struct mmsghdr msgs[BURST];
	struct iovec iov[BURST];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BURST; i++) {
		iov[i].iov_base = bufs[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	uint64_t start = now_ns();
	uint64_t deadline = start + (uint64_t)(seconds * 1e9);
	long sent = 0;
	int failed = 0;
	while (sent < count) {
		uint64_t t = now_ns();
		if (t > deadline)
			break;
		long due = count;
		if (rate > 0) {
			due = (long)((double)(t - start) / 1e9 * (double)rate);
			if (due > count)
				due = count;
		}
		if (due <= sent) {
			/* Paced: wait a little (100 µs) and look again. */
			struct timespec ts = { 0, 100000 };
			clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
			continue;
		}
		int n = due - sent > BURST ? BURST : (int)(due - sent);
		uint64_t send_ns = stamp ? now_ns() : 0;
		for (int i = 0; i < n; i++)
			iov[i].iov_len = build(bufs[i], session, (uint64_t)first_seq + (uint64_t)(sent + i) * messages, messages, m, send_ns);
		int done = 0;
		while (done < n && now_ns() <= deadline) {
			int r = sendmmsg(fd, msgs + done, n - done, 0);
			if (r < 0) {
				/* EINTR; or ECONNREFUSED: an ICMP error reported on this connected
				 * socket, and the burst was not sent: send it again. */
				if (errno == EINTR || errno == ECONNREFUSED)
					continue;
				if (errno == ENOBUFS || errno == EAGAIN) {
					/* The device queue is full: let it drain. */
					struct timespec ts = { 0, 50000 };
					clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
					continue;
				}
				perror("mold_send: sendmmsg");
				failed = 1;
				break;
			}
			done += r;
		}
		sent += done;
		if (failed)
			break;
	}
	double secs = (double)(now_ns() - start) / 1e9;
	printf("{\"sent\":%ld,\"messages\":%ld,\"seconds\":%.6f}\n", sent, sent * messages, secs);
	close(fd);
	return failed;
}
