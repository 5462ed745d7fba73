/*
 * bench/wake-cost.ts's C reader: COUNT times, sleeps in poll() for GAP_MS (on nothing: it times
 * out) and reads CLOCK_MONOTONIC as soon as poll() returns. Prints "ready", waits a second (the
 * bench starts its trace), then does that and prints one JSON array of the clock readings (ns).
 *   wake_reader COUNT GAP_MS
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count = argc > 2 ? strtol(argv[1], NULL, 10) : 0;
	long gap = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	if (count < 1 || count > 100000 || gap < 1 || gap > 1000) {
		fprintf(stderr, "usage: wake_reader COUNT (1..100000) GAP_MS (1..1000)\n");
		return 2;
	}
	int64_t *at = calloc(count, sizeof(*at));
	struct pollfd p = { .fd = -1, .events = POLLIN };
	printf("ready\n");
	fflush(stdout);
	sleep(1);
	for (long i = 0; i < count; i++) {
		struct timespec ts;
		poll(&p, 1, (int)gap);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		at[i] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	printf("[");
	for (long i = 0; i < count; i++)
		printf("%s%lld", i ? "," : "", (long long)at[i]);
	printf("]\n");
	return 0;
}
