/*
 * syntax.c - reading policy text: lines, sections, keys, and every error
 * with its line and column.  A policy with any error is rejected whole.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_impl.h"
#include "safefile.h"

const char policy_default_text[] =
    "[listener *]\n"
    "reuseaddr = yes\n"
    "[client *]\n"
    "close = fin-then-reset\n";

#define ROLES_ALL	(POLICY_ROLE_BIT(POLICY_CLIENT) | POLICY_ROLE_BIT(POLICY_LISTENER) | \
			 POLICY_ROLE_BIT(POLICY_ACCEPTED))
#define ROLES_CL	(POLICY_ROLE_BIT(POLICY_CLIENT) | POLICY_ROLE_BIT(POLICY_LISTENER))
#define ROLES_CA	(POLICY_ROLE_BIT(POLICY_CLIENT) | POLICY_ROLE_BIT(POLICY_ACCEPTED))

/* The keys, in enum policy_key order. */
/*
 * forcible: the program may set the same thing itself (an option, or its
 * own bind() for the address keys), and `force` overrules it.  one_word:
 * the value is a single word (keepalive allows spaces after its commas;
 * close takes arguments).
 */
static const struct keyinfo {
	const char *name;
	unsigned roles;
	bool forcible;
	bool one_word;
} keys[KEY_COUNT] = {
	[KEY_REUSEADDR]		= { "reuseaddr", ROLES_CL, true, true },
	[KEY_REUSEPORT]		= { "reuseport", ROLES_CL, true, true },
	[KEY_BACKLOG]		= { "backlog", POLICY_ROLE_BIT(POLICY_LISTENER), false, true },
	[KEY_LOCAL_PORTS]	= { "local_ports", POLICY_ROLE_BIT(POLICY_CLIENT), true, true },
	[KEY_LOCAL_ADDRESS]	= { "local_address", POLICY_ROLE_BIT(POLICY_CLIENT), true, true },
	[KEY_KEEPALIVE]		= { "keepalive", ROLES_ALL, true, false },
	[KEY_NODELAY]		= { "nodelay", ROLES_CA, true, true },
	[KEY_USER_TIMEOUT]	= { "user_timeout", ROLES_CA, true, true },
	[KEY_FIN_TIMEOUT]	= { "fin_timeout", ROLES_CA, true, true },
	[KEY_CLOSE]		= { "close", ROLES_CA, true, false },
};

static const char *const role_names[POLICY_NROLES] = { "client", "listener", "accepted" };

struct parser {
	struct policy_diag *diag;
	struct policy *p;
	size_t cap;
	struct section *cur;	/* NULL before the first section */
	bool role_unknown;	/* cur's header named no valid role: skip role checks */
	unsigned line;
	unsigned log_line, on_error_line;
};

/* A word of a line, with its 1-based column. */
struct token {
	const char *s;
	unsigned col;
};

static void __attribute__((format(printf, 3, 4)))
error_at(struct parser *ps, unsigned col, const char *fmt, ...)
{
	struct policy_diag *d = ps->diag;
	struct policy_error *e;
	va_list ap;

	/* Past the first POLICY_MAX_ERRORS only the count grows. */
	if (d->nerrors >= POLICY_MAX_ERRORS) {
		d->nerrors++;
		return;
	}
	if (d->nerrors % 16 == 0) {
		struct policy_error *grown = realloc(d->errors,
		    (d->nerrors + 16) * sizeof *d->errors);
		if (grown == NULL)
			return;		/* the count still says there were errors */
		d->errors = grown;
	}
	e = &d->errors[d->nerrors];
	e->line = ps->line;
	e->col = col;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	d->nerrors++;
}

/* Split s (modified in place) into words; cols count from base. */
static size_t
split(char *s, unsigned base, struct token *tok, size_t max)
{
	size_t n = 0;
	char *p = s;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n < max) {
			tok[n].s = p;
			tok[n].col = base + (unsigned)(p - s);
		}
		n++;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	return n;
}

static int
role_parse(const char *s, enum policy_role *role)
{
	for (int r = 0; r < POLICY_NROLES; r++)
		if (strcmp(s, role_names[r]) == 0) {
			*role = (enum policy_role)r;
			return 0;
		}
	return -1;
}

static struct section *
new_section(struct parser *ps)
{
	struct policy *p = ps->p;

	if (p->nsections == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct section *grown = realloc(p->sections, cap * sizeof *grown);
		if (grown == NULL)
			return NULL;
		p->sections = grown;
		ps->cap = cap;
	}
	memset(&p->sections[p->nsections], 0, sizeof p->sections[0]);
	return &p->sections[p->nsections++];
}

/*
 * The ']' that closes a header starting at text[0] == '[': brackets nest,
 * since an IPv6 pattern has its own ("[client [::1]:80]").
 */
static char *
header_end(char *text)
{
	int depth = 0;

	for (char *p = text; *p != '\0'; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']' && --depth == 0)
			return p;
	}
	return NULL;
}

/* "[ROLE PATTERN]": text starts at the '[' in column col. */
static void
parse_header(struct parser *ps, char *text, unsigned col)
{
	char *close = header_end(text), *rest;
	struct token tok[4];
	struct section *s;
	char why[160];
	size_t n, at;

	s = new_section(ps);
	ps->cur = s;		/* even a bad header starts a section, so its keys are checked */
	ps->role_unknown = true;
	if (s == NULL) {
		error_at(ps, col, "out of memory");
		return;
	}
	s->line = ps->line;
	s->role = POLICY_CLIENT;
	if (close == NULL) {
		error_at(ps, col, "unterminated section header (missing ']')");
		return;
	}
	*close = '\0';
	for (rest = close + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest != '\0')
		error_at(ps, col + (unsigned)(rest - text),
		    "unexpected '%s' after the section header", rest);
	n = split(text + 1, col + 1, tok, 4);
	if (n == 0) {
		error_at(ps, col, "empty section header (expected [ROLE PATTERN])");
		return;
	}
	if (role_parse(tok[0].s, &s->role) < 0)
		error_at(ps, tok[0].col, "unknown role '%s' (expected client, listener or accepted)",
		    tok[0].s);
	else
		ps->role_unknown = false;
	if (n == 1) {
		error_at(ps, tok[0].col + (unsigned)strlen(tok[0].s),
		    "missing address pattern after role (use * for any)");
		return;
	}
	if (n > 2) {
		error_at(ps, tok[2].col, "unexpected '%s' in the section header", tok[2].s);
		return;
	}
	if (value_pattern(tok[1].s, &s->pat, why, sizeof why, &at) < 0)
		error_at(ps, tok[1].col + (unsigned)at, "%s", why);
}

/* "listener", "client or accepted", ...: the roles in bits, for messages. */
static void
roles_text(unsigned bits, char *buf, size_t size)
{
	size_t n = 0;
	int count = __builtin_popcount(bits), seen = 0;

	buf[0] = '\0';
	for (int r = 0; r < POLICY_NROLES; r++) {
		if (!(bits & POLICY_ROLE_BIT(r)))
			continue;
		seen++;
		n += (size_t)snprintf(buf + n, size - n, "%s%s",
		    seen == 1 ? "" : seen == count ? " and " : ", ", role_names[r]);
		if (n >= size)
			return;
	}
}

static int
key_lookup(const char *name)
{
	for (int k = 0; k < KEY_COUNT; k++)
		if (strcmp(name, keys[k].name) == 0)
			return k;
	return -1;
}

/* Join tokens from i on with single spaces (for messages). */
static void
join(const struct token *tok, size_t i, size_t n, char *buf, size_t size)
{
	buf[0] = '\0';
	for (; i < n; i++) {
		if (buf[0] != '\0')
			strncat(buf, " ", size - strlen(buf) - 1);
		strncat(buf, tok[i].s, size - strlen(buf) - 1);
	}
}

/*
 * The strategy named by tok[*i] (and tok[*i + 1] for "fin-then-reset
 * always"), advancing *i past it.
 */
static int
parse_close_kind(const struct token *tok, size_t n, size_t *i, enum policy_close_kind *k)
{
	/* Every kind but the two-word one, by the names describe.c gives them. */
	for (int j = 0; j < CLOSE_FIN_THEN_RESET_ALWAYS; j++)
		if (strcmp(tok[*i].s, policy_close_name((enum policy_close_kind)j)) == 0) {
			*k = (enum policy_close_kind)j;
			(*i)++;
			if (*k == CLOSE_FIN_THEN_RESET && *i < n && strcmp(tok[*i].s, "always") == 0) {
				*k = CLOSE_FIN_THEN_RESET_ALWAYS;
				(*i)++;
			}
			return 0;
		}
	return -1;
}

/* A duration token within [min, max] ms; whole seconds when `whole`. */
static int
duration_arg(struct parser *ps, const struct token *t, const char *what,
    uint64_t min, uint64_t max, bool whole, uint64_t *ms)
{
	char lo[32], hi[32];
	int rc = value_duration_ms(t->s, ms);

	format_duration(min, lo, sizeof lo);
	format_duration(max, hi, sizeof hi);
	if (rc == -2) {
		error_at(ps, t->col, "missing unit in duration '%s' (use ms, s, m or h)", t->s);
		return -1;
	}
	if (rc < 0) {
		error_at(ps, t->col, "bad duration '%s' for %s (like 250ms, 5s, 2m)", t->s, what);
		return -1;
	}
	if (*ms < min || *ms > max || (whole && *ms % 1000 != 0)) {
		error_at(ps, t->col, "%s must be %sbetween %s and %s, not '%s'", what,
		    whole ? "whole seconds " : "", lo, hi, t->s);
		return -1;
	}
	return 0;
}

static void
parse_close(struct parser *ps, struct section *s, const struct token *tok, size_t n)
{
	struct policy_close *c = &s->close;
	size_t i = 0;
	uint64_t ms;
	unsigned unsafe_col = 0;

	memset(c, 0, sizeof *c);
	/* "unsafe" ends the value, whatever the strategy: taken off first, checked last. */
	if (n > 1 && strcmp(tok[n - 1].s, "unsafe") == 0)
		unsafe_col = tok[--n].col;
	if (parse_close_kind(tok, n, &i, &c->kind) < 0) {
		error_at(ps, tok[0].col, "unknown close strategy '%s' (expected normal, "
		    "fin-then-reset, abort, abort-if-idle, linger, graceful or peer-first)", tok[0].s);
		return;
	}
	switch (c->kind) {
	case CLOSE_LINGER:
		if (n < 2) {
			error_at(ps, tok[0].col, "linger needs a duration (close = linger 5s)");
			return;
		}
		if (value_duration_ms(tok[1].s, &ms) == 0 && ms == 0) {
			error_at(ps, tok[1].col, "linger 0s resets the connection; say so with "
			    "close = abort");
			return;
		}
		/* SO_LINGER counts whole seconds. */
		if (duration_arg(ps, &tok[1], "linger", 1000, 3600000, true, &ms) < 0)
			return;
		c->wait_ms = (uint32_t)ms;
		i = 2;
		break;
	case CLOSE_GRACEFUL:
		c->wait_ms = POLICY_GRACEFUL_DEFAULT_MS;
		if (n >= 2) {
			if (duration_arg(ps, &tok[1], "graceful", 1, 3600000, false, &ms) < 0)
				return;
			c->wait_ms = (uint32_t)ms;
			i = 2;
		}
		break;
	case CLOSE_PEER_FIRST:
		if (n < 2) {
			error_at(ps, tok[0].col,
			    "peer-first needs a duration (close = peer-first 200ms [then STRATEGY])");
			return;
		}
		if (duration_arg(ps, &tok[1], "peer-first", 1, 3600000, false, &ms) < 0)
			return;
		c->wait_ms = (uint32_t)ms;
		c->fallback = CLOSE_NORMAL;
		i = 2;
		if (n > 2) {
			if (strcmp(tok[2].s, "then") != 0) {
				error_at(ps, tok[2].col, "expected 'then STRATEGY', not '%s'", tok[2].s);
				return;
			}
			if (n < 4) {
				error_at(ps, tok[2].col, "missing strategy after 'then'");
				return;
			}
			i = 3;
			if (parse_close_kind(tok, n, &i, &c->fallback) < 0 ||
			    c->fallback == CLOSE_LINGER || c->fallback == CLOSE_PEER_FIRST) {
				error_at(ps, tok[3].col, "bad fallback '%s' (expected normal, "
				    "fin-then-reset, abort, abort-if-idle or graceful)", tok[3].s);
				return;
			}
			if (c->fallback == CLOSE_GRACEFUL) {
				c->fallback_ms = POLICY_GRACEFUL_DEFAULT_MS;
				if (n > 4) {
					if (duration_arg(ps, &tok[4], "graceful", 1, 3600000, false,
					    &ms) < 0)
						return;
					c->fallback_ms = (uint32_t)ms;
					i = 5;
				}
			}
		}
		break;
	default:
		break;
	}
	if (i < n) {
		error_at(ps, tok[i].col, "unexpected '%s' after '%s'", tok[i].s, tok[0].s);
		return;
	}
	if (unsafe_col != 0 && !policy_close_leaves_no_time_wait(c)) {
		error_at(ps, unsafe_col, "'unsafe' is for a strategy that leaves no TIME_WAIT "
		    "(abort, abort-if-idle, fin-then-reset, or peer-first ... then one of them)");
		return;
	}
	c->unsafe = unsafe_col != 0;
}

/*
 * "60s,10s,5", with spaces allowed after the commas: the words are joined
 * and split on commas, each field keeping the column it starts at.
 */
static void
parse_keepalive(struct parser *ps, struct policy_opts *o, const struct token *tok, size_t n)
{
	char text[POLICY_MAX_LINE + 1], buf[POLICY_MAX_LINE + 1];
	unsigned cols[POLICY_MAX_LINE + 1];
	struct token field[3];
	size_t len = 0, nf = 0, start = 0;
	unsigned long cnt;
	uint64_t ms;
	bool on;

	if (n == 1 && value_bool(tok[0].s, &on) == 0) {
		o->keepalive = on;
		return;
	}
	join(tok, 0, n, text, sizeof text);
	for (size_t i = 0; i < n; i++)
		for (const char *c = tok[i].s; *c != '\0' && len < POLICY_MAX_LINE; c++) {
			cols[len] = tok[i].col + (unsigned)(c - tok[i].s);
			buf[len++] = *c;
		}
	buf[len] = '\0';
	cols[len] = len > 0 ? cols[len - 1] + 1 : tok[0].col;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != ',')
			continue;
		if (i == start) {
			error_at(ps, cols[i], "empty field in keepalive '%s' (expected IDLE,INTVL,CNT "
			    "such as 60s,10s,5)", text);
			return;
		}
		if (nf == 3) {
			/* The comma before this field was cut; the rest is intact. */
			error_at(ps, cols[start - 1], "unexpected ',%s' after the keepalive count "
			    "(expected IDLE,INTVL,CNT)", buf + start);
			return;
		}
		buf[i] = '\0';
		field[nf].s = buf + start;
		field[nf++].col = cols[start];
		start = i + 1;
	}
	if (nf != 3) {
		error_at(ps, tok[0].col, "bad keepalive '%s' (expected IDLE,INTVL,CNT such as "
		    "60s,10s,5, or yes, or off)", text);
		return;
	}
	if (duration_arg(ps, &field[0], "keepalive idle", 1000, 32767000, true, &ms) < 0)
		return;
	o->keep_idle_s = (uint32_t)(ms / 1000);
	if (duration_arg(ps, &field[1], "keepalive interval", 1000, 32767000, true, &ms) < 0)
		return;
	o->keep_intvl_s = (uint32_t)(ms / 1000);
	if (value_uint(field[2].s, 1, 127, &cnt) < 0) {
		error_at(ps, field[2].col, "keepalive count must be 1 to 127, not '%s'", field[2].s);
		return;
	}
	o->keep_cnt = (uint32_t)cnt;
	o->keepalive = true;
}

/* The value of key k, from tokens already past any "force". */
static void
parse_value(struct parser *ps, struct section *s, enum policy_key k,
    const struct token *tok, size_t n, bool forced)
{
	struct policy_opts *o = &s->opts;
	unsigned long v;
	uint64_t ms;
	bool *flag;
	char why[160];

	switch (k) {
	case KEY_REUSEADDR:
	case KEY_REUSEPORT:
	case KEY_NODELAY:
		flag = k == KEY_REUSEADDR ? &o->reuseaddr : k == KEY_REUSEPORT ? &o->reuseport :
		    &o->nodelay;
		if (n == 0 && forced) {
			*flag = true;
			return;
		}
		if (value_bool(tok[0].s, flag) < 0)
			error_at(ps, tok[0].col, "expected yes or no (on/off, true/false) for '%s', "
			    "not '%s'", keys[k].name, tok[0].s);
		return;
	case KEY_BACKLOG:
		if (value_uint(tok[0].s, 1, 1000000, &v) < 0)
			error_at(ps, tok[0].col, "backlog must be a number from 1 to 1000000, not '%s'",
			    tok[0].s);
		else
			o->backlog = (int)v;
		return;
	case KEY_LOCAL_PORTS:
		if (value_port_range(tok[0].s, &o->port_lo, &o->port_hi, why, sizeof why) < 0)
			error_at(ps, tok[0].col, "%s", why);
		return;
	case KEY_LOCAL_ADDRESS:
		if (value_ip(tok[0].s, &o->local_family, o->local_addr) < 0)
			error_at(ps, tok[0].col, "local_address must be an IPv4 or IPv6 address, "
			    "not '%s'", tok[0].s);
		return;
	case KEY_KEEPALIVE:
		parse_keepalive(ps, o, tok, n);
		return;
	case KEY_USER_TIMEOUT:
		if (duration_arg(ps, &tok[0], "user_timeout", 0, 2147483647, false, &ms) == 0)
			o->user_timeout_ms = (uint32_t)ms;
		return;
	case KEY_FIN_TIMEOUT:
		if (duration_arg(ps, &tok[0],
		    "fin_timeout (TCP_LINGER2, the FIN_WAIT_2 time)", 1000, 120000, true, &ms) == 0)
			o->fin_timeout_s = (uint32_t)(ms / 1000);
		return;
	case KEY_CLOSE:
		parse_close(ps, s, tok, n);
		o->close = &s->close;
		return;
	default:
		return;
	}
}

static void
parse_global(struct parser *ps, const char *key, const struct token *tok, size_t n)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	unsigned *seen = key[0] == 'l' ? &ps->log_line : &ps->on_error_line;

	if (ps->cur != NULL) {
		error_at(ps, 1, "'%s' is a global key and must come before the first section", key);
		return;
	}
	if (*seen != 0) {
		error_at(ps, 1, "duplicate key '%s' (first set on line %u)", key, *seen);
		return;
	}
	*seen = ps->line;
	if (key[0] == 'l') {
		for (int i = 0; n == 1 && i < 4; i++)
			if (strcmp(tok[0].s, levels[i]) == 0) {
				ps->p->log_level = (enum policy_log_level)i;
				return;
			}
		error_at(ps, tok[0].col, "log must be error, warn, info or debug, not '%s'", tok[0].s);
		return;
	}
	if (n == 1 && strcmp(tok[0].s, "passthrough") == 0)
		ps->p->on_error = POLICY_ON_ERROR_PASSTHROUGH;
	else if (n == 1 && strcmp(tok[0].s, "exit") == 0)
		ps->p->on_error = POLICY_ON_ERROR_EXIT;
	else
		error_at(ps, tok[0].col, "on_error must be passthrough or exit, not '%s'", tok[0].s);
}

/* "key = value": text is the line without its comment, starting at column col. */
static void
parse_assignment(struct parser *ps, char *text, unsigned col)
{
	char *eq = strchr(text, '='), *value;
	struct token name[2], tok[16];
	struct section *s = ps->cur;
	size_t nn, n;
	bool forced = false;
	int k;

	if (eq == NULL) {
		error_at(ps, col, "expected 'key = value' or '[ROLE PATTERN]'");
		return;
	}
	*eq = '\0';
	value = eq + 1;
	nn = split(text, col, name, 2);
	if (nn != 1) {
		error_at(ps, nn == 0 ? col : name[1].col, nn == 0 ? "missing key before '='" :
		    "expected 'key = value'");
		return;
	}
	n = split(value, col + (unsigned)(value - text), tok, 16);
	if (n > 16) {
		error_at(ps, tok[15].col, "too many words in the value");
		return;
	}
	if (n == 0) {
		error_at(ps, col + (unsigned)(eq - text) + 1, "missing value for '%s'", name[0].s);
		return;
	}
	if (strcmp(name[0].s, "log") == 0 || strcmp(name[0].s, "on_error") == 0) {
		parse_global(ps, name[0].s, tok, n);
		return;
	}
	if (s == NULL) {
		error_at(ps, name[0].col, "'%s' outside a section (start one with [ROLE PATTERN])",
		    name[0].s);
		return;
	}
	if (strcmp(name[0].s, "program") == 0) {
		if (s->program_line != 0)
			error_at(ps, name[0].col, "duplicate key 'program' (first set on line %u)",
			    s->program_line);
		else if (n != 1)
			error_at(ps, tok[1].col, "program takes one glob pattern");
		else if ((s->program = strdup(tok[0].s)) == NULL)
			error_at(ps, tok[0].col, "out of memory");
		else
			s->program_line = ps->line;
		return;
	}
	if ((k = key_lookup(name[0].s)) < 0) {
		error_at(ps, name[0].col, "unknown key '%s' (expected reuseaddr, reuseport, "
		    "backlog, local_ports, local_address, keepalive, nodelay, user_timeout, "
		    "fin_timeout, close or program)", name[0].s);
		return;
	}
	if (!ps->role_unknown && !(keys[k].roles & POLICY_ROLE_BIT(s->role))) {
		char roles[40];

		roles_text(keys[k].roles, roles, sizeof roles);
		error_at(ps, name[0].col, "'%s' does not apply to %s sections (only to %s)",
		    keys[k].name, role_names[s->role], roles);
		return;
	}
	/* A line that set the key, even with a bad value, makes a second one a duplicate. */
	if (s->opts.line[k] != 0) {
		error_at(ps, name[0].col, "duplicate key '%s' (first set on line %u)", keys[k].name,
		    s->opts.line[k]);
		return;
	}
	s->opts.line[k] = ps->line;
	if (strcmp(tok[0].s, "force") == 0) {
		if (!keys[k].forcible) {
			error_at(ps, tok[0].col, "'%s' cannot be forced", keys[k].name);
			return;
		}
		forced = true;
		if (n == 1 && k != KEY_REUSEADDR && k != KEY_REUSEPORT && k != KEY_NODELAY) {
			error_at(ps, tok[0].col + 5, "missing value after 'force'");
			return;
		}
	}
	if (keys[k].one_word && n - forced > 1) {
		error_at(ps, tok[forced + 1].col, "unexpected '%s': '%s' takes one value",
		    tok[forced + 1].s, keys[k].name);
		return;
	}
	unsigned before = ps->diag->nerrors;
	parse_value(ps, s, (enum policy_key)k, tok + forced, n - forced, forced);
	if (ps->diag->nerrors != before)
		return;
	s->opts.set |= POLICY_KEY_BIT(k);
	if (forced)
		s->opts.forced |= POLICY_KEY_BIT(k);
}

static void
parse_line(struct parser *ps, char *line, size_t len)
{
	char *p, *hash;

	if (len > POLICY_MAX_LINE) {
		error_at(ps, POLICY_MAX_LINE + 1, "line too long (more than %d characters)",
		    POLICY_MAX_LINE);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			error_at(ps, (unsigned)i + 1, "invalid character 0x%02x", c);
			return;
		}
	}
	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0')
		return;
	if (*p == '[')
		parse_header(ps, p, (unsigned)(p - line) + 1);
	else
		parse_assignment(ps, p, (unsigned)(p - line) + 1);
}

static struct policy *
parse(const char *text, size_t len, const char *name, bool semicolons,
    struct policy_diag *diag)
{
	struct parser ps = { .diag = diag };
	char line[POLICY_MAX_LINE + 2];
	size_t start = 0;

	if ((ps.p = calloc(1, sizeof *ps.p)) == NULL || (ps.p->file = strdup(name)) == NULL) {
		ps.line = 0;
		error_at(&ps, 0, "out of memory");
		free(ps.p);
		return NULL;
	}
	ps.p->log_level = POLICY_LOG_UNSET;
	/* A UTF-8 byte order mark, as some editors write: not part of line 1. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	for (;;) {
		size_t end = start, n;

		while (end < len && text[end] != '\n' && !(semicolons && text[end] == ';'))
			end++;
		if (start >= len)
			break;		/* no line after the last separator */
		ps.line++;
		n = end - start;
		if (n > 0 && text[end - 1] == '\r')
			n--;		/* CRLF: the CR is not part of the line */
		if (n > POLICY_MAX_LINE) {
			parse_line(&ps, line, n);	/* reports the length only */
		} else {
			const char *nul = memchr(text + start, '\0', n);

			memcpy(line, text + start, n);
			line[n] = '\0';
			/* A NUL inside a line is binary garbage, not its end. */
			if (nul != NULL)
				error_at(&ps, (unsigned)(nul - (text + start)) + 1,
				    "invalid character 0x00");
			else
				parse_line(&ps, line, n);
		}
		start = end + 1;
	}
	diag->on_error = ps.p->on_error;
	if (diag->nerrors > 0) {
		policy_free(ps.p);
		return NULL;
	}
	policy_bind_program(ps.p, NULL);
	return ps.p;
}

static void
diag_init(struct policy_diag *diag, const char *name)
{
	memset(diag, 0, sizeof *diag);
	snprintf(diag->file, sizeof diag->file, "%s", name);
}

struct policy *
policy_parse_string(const char *text, size_t len, const char *name, bool semicolons,
    struct policy_diag *diag)
{
	diag_init(diag, name);
	return parse(text, len, name, semicolons, diag);
}

struct policy *
policy_parse_file(const char *path, struct policy_diag *diag)
{
	struct parser ps = { .diag = diag };
	struct policy *p;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, err = 0;

	diag_init(diag, path);
	/* Not a FIFO, not a device: nothing that could keep a program waiting. */
	if ((fd = safe_open_input(path)) < 0) {
		error_at(&ps, 0, "cannot read %s: %s", path, safe_strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t got;

		if (len == cap) {
			char *grown;
			cap = cap ? cap * 2 : 4096;
			if (cap > 2 * 1024 * 1024 || (grown = realloc(buf, cap)) == NULL)
				break;
			buf = grown;
		}
		got = safe_read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? errno : 0;
			break;
		}
		len += (size_t)got;
	}
	safe_close(fd);
	if (err != 0) {
		error_at(&ps, 0, "cannot read %s: %s", path, strerror(err));
		free(buf);
		return NULL;
	}
	if (len > 1024 * 1024) {
		error_at(&ps, 0, "file too large (more than 1 MiB)");
		free(buf);
		return NULL;
	}
	p = parse(buf != NULL ? buf : "", len, path, false, diag);
	free(buf);
	return p;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nsections; i++)
		free(p->sections[i].program);
	policy_index_free(p->index);
	free(p->sections);
	free(p->file);
	free(p);
}

void
policy_diag_free(struct policy_diag *diag)
{
	free(diag->errors);
	diag->errors = NULL;
	diag->nerrors = 0;
}

void
policy_diag_print(const struct policy_diag *diag, FILE *out)
{
	unsigned kept = diag->nerrors < POLICY_MAX_ERRORS ? diag->nerrors : POLICY_MAX_ERRORS;

	for (unsigned i = 0; i < kept && diag->errors != NULL; i++) {
		const struct policy_error *e = &diag->errors[i];

		if (e->line == 0)
			fprintf(out, "%s: %s\n", diag->file, e->msg);
		else
			fprintf(out, "%s:%u:%u: %s\n", diag->file, e->line, e->col, e->msg);
	}
	if (diag->nerrors > kept)
		fprintf(out, "%s: and %u more error%s\n", diag->file, diag->nerrors - kept,
		    diag->nerrors - kept == 1 ? "" : "s");
}

enum policy_log_level
policy_log_level(const struct policy *p)
{
	return p->log_level;
}

enum policy_on_error
policy_on_error(const struct policy *p)
{
	return p->on_error;
}

const char *
policy_file_name(const struct policy *p)
{
	return p->file;
}

const char *
policy_role_name(enum policy_role role)
{
	return (unsigned)role < POLICY_NROLES ? role_names[role] : "?";
}

int
policy_role_parse(const char *s, enum policy_role *role)
{
	return role_parse(s, role);
}

const char *
policy_key_name(enum policy_key key)
{
	return (unsigned)key < KEY_COUNT ? keys[key].name : "?";
}
