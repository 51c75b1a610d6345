/*
 * cgroup_abi.h - what the kernel backend (cgroup.bpf.c) and the launcher
 * that loads it (launcher/cgroup*.c, launcher/agent.c) agree on: the
 * compiled policy in the sections map, the events of the ring buffer and
 * the counters.  Included by both sides, so only fixed-width types.
 */
#ifndef TWSHIM_CGROUP_ABI_H
#define TWSHIM_CGROUP_ABI_H

/* Sections of a policy the kernel backend takes (file order, first wins per key). */
#define TWB_MAX_SECTIONS	64

/* Roles and key bits, as the policy library numbers them (checked at build time). */
#define TWB_ROLE_CLIENT		0
#define TWB_ROLE_LISTENER	1
#define TWB_ROLE_ACCEPTED	2

#define TWB_KEY_REUSEADDR	(1u << 0)
#define TWB_KEY_REUSEPORT	(1u << 1)
#define TWB_KEY_LOCAL_PORTS	(1u << 3)
#define TWB_KEY_LOCAL_ADDRESS	(1u << 4)
#define TWB_KEY_KEEPALIVE	(1u << 5)
#define TWB_KEY_NODELAY		(1u << 6)
#define TWB_KEY_USER_TIMEOUT	(1u << 7)
#define TWB_KEY_CLOSE		(1u << 9)

/* close: what happens when a connection of the cgroup enters TIME_WAIT. */
#define TWB_CLOSE_NORMAL	0
#define TWB_CLOSE_FIN_THEN_RESET 1	/* destroyed when the peer sent data */
#define TWB_CLOSE_ALWAYS	2	/* destroyed whether or not it did */

/*
 * One section.  Addresses are four 32-bit words in network order (an
 * IPv4 address in word 0); a socket's address matches when
 * ((addr[w] ^ sec.addr[w]) & sec.mask[w]) == 0 for every word.
 */
struct twb_section {
	__u8 role;
	__u8 family;		/* 0: any address, 4 or 6 */
	__u8 has_port;
	__u8 close;
	__u16 port_lo, port_hi;
	__u32 addr[4];
	__u32 mask[4];
	__u32 set;		/* TWB_KEY_* the section gives a value */
	__u8 reuseaddr, reuseport, nodelay, keepalive;
	__u32 keep_idle_s, keep_intvl_s, keep_cnt;	/* 0: the system's */
	__u32 user_timeout_ms;
	__u16 pool_lo, pool_hi;
	__u8 local_family;	/* local_address: 4 or 6 */
	__u8 pad[3];
	__u32 local_addr[4];
};

/* A connection that just entered TIME_WAIT and is to be destroyed. */
struct twb_event {
	__u64 cookie;		/* SO_COOKIE, kept by the TIME_WAIT socket */
	__u64 netns;		/* the network namespace's cookie */
	__u64 when_ns;		/* CLOCK_MONOTONIC when it entered TIME_WAIT */
	__u32 src[4], dst[4];	/* network order; IPv4 in word 0 */
	__u16 sport, dport;	/* host order */
	__u8 family;		/* 4 or 6 */
	__u8 swept;		/* 0 from the program; 1: found by the launcher's sweep */
	__u8 pad[6];
};

/* The counters in the program's .bss, read in place by the launcher. */
enum twb_counter {
	TWB_TIME_WAITS = 0,	/* entered TIME_WAIT under fin-then-reset */
	TWB_SKIPPED_NO_DATA,	/* kept: the peer sent no data */
	TWB_SKIPPED_NO_TS,	/* kept: no timestamps negotiated */
	TWB_EVENTS_LOST,	/* ring buffer full: left to the sweep */
	TWB_POOL_EXHAUSTED,	/* connect() refused: no free port in local_ports */
	TWB_OPEN,		/* connections under fin-then-reset not closed yet */
	TWB_NCOUNTERS
};

#endif
