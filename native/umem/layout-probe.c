/*
 * Prints, as one JSON object, sizeof and offsetof of every kernel struct that the TypeScript
 * code mirrors (src/sys/if-xdp.ts), as the installed kernel headers define them.
 * test/unit/layout.test.ts compares the two and fails on any difference.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/if_xdp.h>

#define FIELD(s, f) printf("%s\"%s\":%zu", first++ ? "," : "", #f, offsetof(struct s, f))
#define BEGIN(s) do { int first = 0; printf("%s\"%s\":{\"size\":%zu,\"fields\":{", n++ ? "," : "", #s, sizeof(struct s));
#define END() printf("}}"); } while (0)

int main(void)
{
	int n = 0;

	printf("{");
	BEGIN(sockaddr_xdp);
	FIELD(sockaddr_xdp, sxdp_family);
	FIELD(sockaddr_xdp, sxdp_flags);
	FIELD(sockaddr_xdp, sxdp_ifindex);
	FIELD(sockaddr_xdp, sxdp_queue_id);
	FIELD(sockaddr_xdp, sxdp_shared_umem_fd);
	END();
	BEGIN(xdp_umem_reg);
	FIELD(xdp_umem_reg, addr);
	FIELD(xdp_umem_reg, len);
	FIELD(xdp_umem_reg, chunk_size);
	FIELD(xdp_umem_reg, headroom);
	FIELD(xdp_umem_reg, flags);
	END();
	BEGIN(xdp_ring_offset);
	FIELD(xdp_ring_offset, producer);
	FIELD(xdp_ring_offset, consumer);
	FIELD(xdp_ring_offset, desc);
	FIELD(xdp_ring_offset, flags);
	END();
	BEGIN(xdp_mmap_offsets);
	FIELD(xdp_mmap_offsets, rx);
	FIELD(xdp_mmap_offsets, tx);
	FIELD(xdp_mmap_offsets, fr);
	FIELD(xdp_mmap_offsets, cr);
	END();
	BEGIN(xdp_desc);
	FIELD(xdp_desc, addr);
	FIELD(xdp_desc, len);
	FIELD(xdp_desc, options);
	END();
	BEGIN(xdp_statistics);
	FIELD(xdp_statistics, rx_dropped);
	FIELD(xdp_statistics, rx_invalid_descs);
	FIELD(xdp_statistics, tx_invalid_descs);
	FIELD(xdp_statistics, rx_ring_full);
	FIELD(xdp_statistics, rx_fill_ring_empty_descs);
	FIELD(xdp_statistics, tx_ring_empty_descs);
	END();
	BEGIN(xdp_options);
	FIELD(xdp_options, flags);
	END();
	printf("}\n");
	return 0;
}
