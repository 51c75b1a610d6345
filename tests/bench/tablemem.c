/*
 * tablemem - the fd table at scale, without a real descriptor per entry
 * (this machine's hard RLIMIT_NOFILE is below 100000).
 *
 *	tablemem mem N		track N sockets; print the table's bytes per socket
 *	tablemem lookup N K	track N sockets, then K lookups of one of them
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fdtable.h"
#include "mem.h"

int
main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 100000;
	long k = argc > 3 ? atol(argv[3]) : 1000;
	size_t before = tw_mem_mapped();
	volatile unsigned found = 0;

	if (!fdt_enter())
		return 1;
	for (long i = 0; i < n; i++)
		if (fdt_add((int)(100 + i), AF_INET, false) == NULL)
			return 1;
	fdt_leave();
	if (argc > 1 && strcmp(argv[1], "mem") == 0) {
		printf("%ld sockets: %zu bytes mapped, %.1f bytes per tracked socket\n", n,
		    tw_mem_mapped() - before, (double)(tw_mem_mapped() - before) / (double)n);
		return 0;
	}
	for (long i = 0; i < k; i++) {
		if (fdt_enter()) {
			found += fdt_find((int)(100 + n / 2)) != NULL;
			fdt_leave();
		}
	}
	return found == (unsigned)k ? 0 : 1;
}
