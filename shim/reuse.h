/*
 * reuse.h - how soon a four-tuple freed without TIME_WAIT may come back.
 *
 * A close that leaves no TIME_WAIT here hands its four-tuple back at
 * once.  What then keeps a late segment of the old connection out of a
 * new one on the same four-tuple is PAWS, and PAWS can only tell them
 * apart once the new connection's first timestamp is newer than every
 * timestamp of the old one: a few ticks of the 1 ms timestamp clock.
 * So no four-tuple the shim frees may come back sooner than
 * TW_REUSE_QUARANTINE_MS (see reuse.c for the figure).
 */
#ifndef TWSHIM_REUSE_H
#define TWSHIM_REUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

#pragma GCC visibility push(hidden)

#define TW_REUSE_QUARANTINE_MS	POLICY_REUSE_QUARANTINE_MS

/*
 * A client that has not yet shown its pace may reconnect this often: ten
 * connections a millisecond, near what one process manages on loopback.
 * So a range the kernel picks from is trusted only when it has at least
 * TW_REUSE_MIN_PORTS ports (it hands out half of them, one parity, before
 * it comes back to a port).
 */
#define TW_REUSE_ASSUMED_PER_MS	10
#define TW_REUSE_MIN_PORTS	(2 * TW_REUSE_QUARANTINE_MS * TW_REUSE_ASSUMED_PER_MS)

struct tw_desc;

/*
 * Whether a client connection on d, closed now without TIME_WAIT, could
 * see the kernel hand its four-tuple out again within the quarantine: its
 * local port was the kernel's pick (from the system range, or from
 * local_ports narrowed with IP_LOCAL_PORT_RANGE), and this process's
 * recent closes come faster than the range can absorb.  A port of the
 * shim's own pool is quarantined where it is picked instead (false here).
 * No system call, except the system range read once per process.
 */
bool tw_reuse_too_soon(const struct tw_desc *d);

/* d, a client socket, is being closed: note it for the two checks. */
void tw_reuse_note_close(const struct tw_desc *d);

/* Whether `port` of the shim's pool was freed less than the quarantine ago. */
bool tw_reuse_port_quarantined(unsigned port);

/* fork(): a child of a process caught mapping the table maps it anew. */
void tw_reuse_postfork_child(void);

/*
 * About how many new connections a second a process may make through a
 * range of `ports` the kernel picks from before its closes keep TIME_WAIT
 * (0: a range too small to trust at all).
 */
static inline unsigned
tw_reuse_max_rate(unsigned ports)
{
	if (ports < TW_REUSE_MIN_PORTS)
		return 0;
	return ports / 2 * 1000 / TW_REUSE_QUARANTINE_MS;
}

#pragma GCC visibility pop

#endif
