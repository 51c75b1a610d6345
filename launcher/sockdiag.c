/*
 * sockdiag.c - TCP sockets from NETLINK_SOCK_DIAG (what ss reads), rather
 * than from ss's output or /proc/net/tcp: one dump per family, with the
 * TIME_WAIT sockets that no process holds any more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockdiag.h"

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void
addr_from_diag(int family, const __be32 raw[4], __be16 port, struct tcp_addr *out)
{
	memset(out, 0, sizeof *out);
	if (family == AF_INET) {
		memcpy(out->ip.s6_addr, v4_mapped_prefix, 12);
		memcpy(out->ip.s6_addr + 12, &raw[0], 4);
	} else {
		memcpy(out->ip.s6_addr, raw, 16);
	}
	out->port = ntohs(port);
}

static int
push(struct tcp_table *t, const struct tcp_sock *s)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct tcp_sock *grown = realloc(t->socks, cap * sizeof *grown);

		if (grown == NULL)
			return -1;
		t->socks = grown;
		t->cap = cap;
	}
	t->socks[t->n++] = *s;
	return 0;
}

static int
dump_family(int nl, int family, struct tcp_table *t)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof msg,
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = (uint32_t)family,
		},
		.req = {
			.sdiag_family = (uint8_t)family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = ~0u,
		},
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	/* Aligned for nlmsghdr; 32 kB holds many messages per read. */
	static long buf[32768 / sizeof(long)];

	if (sendto(nl, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		return -1;
	for (;;) {
		ssize_t got = recv(nl, buf, sizeof buf, 0);
		struct nlmsghdr *h;
		int n;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		/* An int: NLMSG_NEXT may take it below zero, where NLMSG_OK stops. */
		n = (int)got;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *d;
			struct tcp_sock s;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				errno = h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) ? -e->error : EPROTO;
				return -1;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof *d))
				continue;
			d = NLMSG_DATA(h);
			memset(&s, 0, sizeof s);
			addr_from_diag(d->idiag_family, d->id.idiag_src, d->id.idiag_sport, &s.local);
			addr_from_diag(d->idiag_family, d->id.idiag_dst, d->id.idiag_dport, &s.remote);
			s.state = d->idiag_state;
			s.inode = d->idiag_inode;
			if (push(t, &s) < 0)
				return -1;
		}
	}
}

int
tcp_table_read(struct tcp_table *t)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int nl;

	memset(t, 0, sizeof *t);
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		fprintf(stderr, "twshim: cannot open a sock_diag socket: %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		/* A kernel without IPv6 answers ENOENT for AF_INET6: none to list. */
		if (dump_family(nl, families[i], t) < 0 &&
		    !(families[i] == AF_INET6 && errno == ENOENT)) {
			fprintf(stderr, "twshim: reading the TCP socket table (%s): %s\n",
			    families[i] == AF_INET ? "IPv4" : "IPv6", strerror(errno));
			close(nl);
			tcp_table_free(t);
			return -1;
		}
	}
	close(nl);
	return 0;
}

void
tcp_table_free(struct tcp_table *t)
{
	free(t->socks);
	memset(t, 0, sizeof *t);
}

bool
tcp_addr_is_v4(const struct tcp_addr *a)
{
	return memcmp(a->ip.s6_addr, v4_mapped_prefix, 12) == 0;
}

bool
tcp_addr_is_any(const struct tcp_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->ip.s6_addr, zero, 16) == 0 ||
	    (tcp_addr_is_v4(a) && memcmp(a->ip.s6_addr + 12, zero, 4) == 0);
}

bool
tcp_addr_is_loopback(const struct tcp_addr *a)
{
	if (tcp_addr_is_v4(a))
		return a->ip.s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->ip);
}

void
tcp_addr_format(const struct tcp_addr *a, bool with_port, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	bool v4 = tcp_addr_is_v4(a);

	if (v4)
		inet_ntop(AF_INET, a->ip.s6_addr + 12, ip, sizeof ip);
	else
		inet_ntop(AF_INET6, &a->ip, ip, sizeof ip);
	if (!with_port)
		snprintf(out, size, "%s", ip);
	else if (v4)
		snprintf(out, size, "%s:%u", ip, a->port);
	else
		snprintf(out, size, "[%s]:%u", ip, a->port);
}
