/*
 * bench/wake-cost.ts's C reader: blocks in poll() on fd 3 (a socket its parent writes to), and
 * as soon as poll() returns reads CLOCK_MONOTONIC, then the message: the writer's
 * CLOCK_MONOTONIC ns when it wrote (8 bytes, little-endian). Prints "ready" when it waits for the
 * first, and at the end one JSON array: for each message, reader's clock - writer's, in ns.
 *   wake_reader COUNT
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	if (count < 1 || count > 100000) {
		fprintf(stderr, "usage: wake_reader COUNT (1..100000)\n");
		return 2;
	}
	int64_t *lat = calloc(count, sizeof(*lat));
	struct pollfd p = { .fd = 3, .events = POLLIN };
	printf("ready\n");
	fflush(stdout);
	for (long i = 0; i < count; i++) {
		if (poll(&p, 1, 10000) != 1) {
			fprintf(stderr, "wake_reader: no message %ld within 10 s\n", i);
			return 1;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t sent;
		if (read(3, &sent, sizeof(sent)) != sizeof(sent)) {
			fprintf(stderr, "wake_reader: short read\n");
			return 1;
		}
		lat[i] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - sent;
	}
	printf("[");
	for (long i = 0; i < count; i++)
		printf("%s%lld", i ? "," : "", (long long)lat[i]);
	printf("]\n");
	return 0;
}
