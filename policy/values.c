/*
 * values.c - the small languages inside a policy: durations, booleans,
 * port ranges, addresses and address patterns, and their printed forms.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_impl.h"

int
value_duration_ms(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t scale; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	uint64_t n = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > 100000000000ULL)
			return -1;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(p, units[i].unit) == 0) {
			*ms = n * units[i].scale;
			return 0;
		}
	return *p == '\0' ? -2 : -1;	/* -2: a number without a unit */
}

int
value_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "yes", "on", "true" };
	static const char *const no[] = { "no", "off", "false" };

	for (int i = 0; i < 3; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

int
value_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

int
value_port_range(const char *s, uint16_t *lo, uint16_t *hi, char *why, size_t whysize)
{
	char buf[32];
	const char *dash = strchr(s, '-');
	unsigned long a, b;

	if (strlen(s) >= sizeof buf)
		goto bad;
	if (dash == NULL) {
		if (value_uint(s, 1, 65535, &a) < 0)
			goto bad;
		*lo = *hi = (uint16_t)a;
		return 0;
	}
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = '\0';
	if (value_uint(buf, 1, 65535, &a) < 0 || value_uint(dash + 1, 1, 65535, &b) < 0)
		goto bad;
	if (a > b) {
		snprintf(why, whysize, "empty port range %lu-%lu", a, b);
		return -1;
	}
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
bad:
	snprintf(why, whysize, "bad port '%s' (expected PORT or LO-HI, 1-65535)", s);
	return -1;
}

int
value_ip(const char *s, int *family, unsigned char addr[16])
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof buf) {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

bool
policy_addr_is_v4mapped(const unsigned char addr[16])
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(addr, prefix, sizeof prefix) == 0;
}

/*
 * ADDR or ADDR/LEN into p's address fields.  An IPv4-mapped IPv6 address
 * becomes the IPv4 address it stands for: sockets are matched that way.
 */
static int
pattern_address(const char *s, struct pattern *p, char *why, size_t whysize, size_t *at)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned long plen;
	unsigned max;

	*at = 0;
	if (n == 0 || n >= sizeof buf) {
		snprintf(why, whysize, "bad address '%s'", s);
		return -1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		p->family = AF_INET6;
	else {
		snprintf(why, whysize, "bad address '%s'", buf);
		return -1;
	}
	max = p->family == AF_INET ? 32 : 128;
	p->plen = max;
	if (slash != NULL) {
		if (value_uint(slash + 1, 0, max, &plen) < 0) {
			*at = n + 1;
			snprintf(why, whysize, "bad prefix length '%s' (0-%u)", slash + 1, max);
			return -1;
		}
		p->plen = (unsigned)plen;
	}
	if (p->family == AF_INET6 && p->plen >= 96 && policy_addr_is_v4mapped(p->addr)) {
		memmove(p->addr, p->addr + 12, 4);
		memset(p->addr + 4, 0, 12);
		p->family = AF_INET;
		p->plen -= 96;
		max = 32;
	}
	/* Host bits beyond the prefix are ignored, as routers do. */
	for (unsigned bit = p->plen; bit < max; bit++)
		p->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return 0;
}

static int
pattern_ports(const char *s, size_t offset, struct pattern *p, char *why, size_t whysize,
    size_t *at)
{
	*at = offset;
	p->has_port = true;
	return value_port_range(s, &p->port_lo, &p->port_hi, why, whysize);
}

/*
 * "::1:6379" is the address ::1:6379, any port, though it reads as port
 * 6379 of ::1: a bare IPv6 address that is also an address, a colon and a
 * port number is refused, with both spellings that say one thing.
 */
static bool
bare_v6_with_port(const char *s, char *why, size_t whysize, size_t *at)
{
	const char *last = strrchr(s, ':');
	unsigned char addr[16];
	unsigned long port;
	char head[64];
	size_t n = (size_t)(last - s);

	if (strchr(s, '/') != NULL || n == 0 || n >= sizeof head ||
	    value_uint(last + 1, 1, 65535, &port) < 0)
		return false;
	memcpy(head, s, n);
	head[n] = '\0';
	if (inet_pton(AF_INET6, head, addr) != 1 || inet_pton(AF_INET6, s, addr) != 1)
		return false;
	*at = n;
	snprintf(why, whysize, "'%s' is the IPv6 address %s with any port; for port %lu of %s "
	    "write [%s]:%lu, for the address alone [%s]", s, s, port, head, head, port, s);
	return true;
}

int
value_pattern(const char *s, struct pattern *p, char *why, size_t whysize, size_t *at)
{
	char buf[128];
	const char *colon;

	memset(p, 0, sizeof *p);
	*at = 0;
	if (strlen(s) >= sizeof buf) {
		snprintf(why, whysize, "address pattern too long");
		return -1;
	}
	if (strcmp(s, "*") == 0)
		return 0;
	if (strncmp(s, "*:", 2) == 0)
		return pattern_ports(s + 2, 2, p, why, whysize, at);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			snprintf(why, whysize, "missing ']' in '%s'", s);
			return -1;
		}
		memcpy(buf, s + 1, (size_t)(close - s - 1));
		buf[close - s - 1] = '\0';
		if (strchr(buf, ':') == NULL) {
			snprintf(why, whysize, "brackets are for IPv6 addresses: '%s'", s);
			return -1;
		}
		if (pattern_address(buf, p, why, whysize, at) < 0) {
			*at += 1;	/* buf starts after the '[' */
			return -1;
		}
		if (close[1] == '\0')
			return 0;
		if (close[1] != ':') {
			*at = (size_t)(close - s) + 1;
			snprintf(why, whysize, "expected ':PORT' after ']' in '%s'", s);
			return -1;
		}
		return pattern_ports(close + 2, (size_t)(close - s) + 2, p, why, whysize, at);
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL && bare_v6_with_port(s, why, whysize, at))
		return -1;
	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		return pattern_address(s, p, why, whysize, at);	/* no port, or bare IPv6 */
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	if (pattern_address(buf, p, why, whysize, at) < 0)
		return -1;
	return pattern_ports(colon + 1, (size_t)(colon - s) + 1, p, why, whysize, at);
}

void
format_duration(uint64_t ms, char *buf, size_t size)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
}

void
format_pattern(const struct pattern *p, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN + 8], ports[16] = "";
	unsigned max = p->family == AF_INET ? 32 : 128;

	if (p->has_port) {
		if (p->port_lo == p->port_hi)
			snprintf(ports, sizeof ports, ":%u", p->port_lo);
		else
			snprintf(ports, sizeof ports, ":%u-%u", p->port_lo, p->port_hi);
	}
	if (p->family == 0) {
		snprintf(buf, size, "*%s", ports);
		return;
	}
	inet_ntop(p->family, p->addr, addr, sizeof addr);
	if (p->plen != max)
		snprintf(addr + strlen(addr), sizeof addr - strlen(addr), "/%u", p->plen);
	if (p->family == AF_INET6)
		snprintf(buf, size, "[%s]%s", addr, ports);
	else
		snprintf(buf, size, "%s%s", addr, ports);
}

void
format_value(const struct policy_opts *o, const struct policy_close *c,
    enum policy_key key, char *buf, size_t size)
{
	const char *force = (o->forced & POLICY_KEY_BIT(key)) ? "force " : "";
	char d1[32], d2[32], addr[INET6_ADDRSTRLEN];

	switch (key) {
	case KEY_REUSEADDR:
		snprintf(buf, size, "%s%s", force, o->reuseaddr ? "yes" : "no");
		break;
	case KEY_REUSEPORT:
		snprintf(buf, size, "%s%s", force, o->reuseport ? "yes" : "no");
		break;
	case KEY_NODELAY:
		snprintf(buf, size, "%s%s", force, o->nodelay ? "yes" : "no");
		break;
	case KEY_BACKLOG:
		snprintf(buf, size, "%d", o->backlog);
		break;
	case KEY_LOCAL_PORTS:
		snprintf(buf, size, "%s%u-%u", force, o->port_lo, o->port_hi);
		break;
	case KEY_LOCAL_ADDRESS:
		inet_ntop(o->local_family, o->local_addr, addr, sizeof addr);
		snprintf(buf, size, "%s%s", force, addr);
		break;
	case KEY_KEEPALIVE:
		if (!o->keepalive)
			snprintf(buf, size, "%soff", force);
		else if (o->keep_idle_s == 0)
			snprintf(buf, size, "%syes", force);
		else {
			format_duration((uint64_t)o->keep_idle_s * 1000, d1, sizeof d1);
			format_duration((uint64_t)o->keep_intvl_s * 1000, d2, sizeof d2);
			snprintf(buf, size, "%s%s,%s,%u", force, d1, d2, o->keep_cnt);
		}
		break;
	case KEY_USER_TIMEOUT:
		format_duration(o->user_timeout_ms, d1, sizeof d1);
		snprintf(buf, size, "%s%s", force, d1);
		break;
	case KEY_FIN_TIMEOUT:
		format_duration((uint64_t)o->fin_timeout_s * 1000, d1, sizeof d1);
		snprintf(buf, size, "%s%s", force, d1);
		break;
	case KEY_CLOSE:
		snprintf(buf, size, "%s", force);
		policy_close_format(c, buf + strlen(buf), size - strlen(buf));
		break;
	default:
		snprintf(buf, size, "?");
	}
}
