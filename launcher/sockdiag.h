/*
 * sockdiag.h - the kernel's table of TCP sockets, read through sock_diag,
 * and the processes that hold them, read from /proc.
 */
#ifndef TWSHIM_SOCKDIAG_H
#define TWSHIM_SOCKDIAG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The kernel's TCP states, as sock_diag numbers them (include/net/tcp_states.h). */
enum {
	TCPS_ESTABLISHED = 1, TCPS_SYN_SENT, TCPS_SYN_RECV, TCPS_FIN_WAIT1,
	TCPS_FIN_WAIT2, TCPS_TIME_WAIT, TCPS_CLOSE, TCPS_CLOSE_WAIT,
	TCPS_LAST_ACK, TCPS_LISTEN, TCPS_CLOSING,
};

/*
 * An address as a 16-byte IPv6 one; IPv4 (and IPv4-mapped IPv6, which
 * shares IPv4's ports) as ::ffff:a.b.c.d, so that the two compare equal.
 */
struct tcp_addr {
	struct in6_addr ip;
	uint16_t port;		/* host order */
};

struct tcp_sock {
	struct tcp_addr local, remote;
	uint8_t state;
	uint32_t inode;		/* 0 for TIME_WAIT: no socket file is left */
};

struct tcp_table {
	struct tcp_sock *socks;
	size_t n, cap;
};

/*
 * Every TCP socket of this network namespace, IPv4 and IPv6; 0, or -1 with
 * a message on stderr.
 */
int tcp_table_read(struct tcp_table *t);
void tcp_table_free(struct tcp_table *t);

bool tcp_addr_is_v4(const struct tcp_addr *a);
bool tcp_addr_is_any(const struct tcp_addr *a);
bool tcp_addr_is_loopback(const struct tcp_addr *a);
/* "1.2.3.4" or "::1"; with port, "1.2.3.4:80" or "[::1]:80". */
void tcp_addr_format(const struct tcp_addr *a, bool with_port, char *out, size_t size);

/* A process that holds a socket. */
struct sock_owner {
	uint32_t inode;
	pid_t pid;
	char comm[64];		/* the base name of the program it runs */
};

struct owner_table {
	struct sock_owner *owners;	/* sorted by inode */
	size_t n, cap;
	unsigned processes_seen;	/* whose descriptors could be read */
	unsigned processes_hidden;	/* whose could not (another user's) */
};

/* Which process holds each socket inode, from /proc/PID/fd. */
void owner_table_read(struct owner_table *o);
void owner_table_free(struct owner_table *o);
/* The first process holding inode, or NULL. */
const struct sock_owner *owner_of(const struct owner_table *o, uint32_t inode);

#endif
