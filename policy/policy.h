/*
 * policy.h - the twshim policy language: parse, validate, match, explain.
 *
 * A pure library: no dlfcn, no hooks, no global state.  The shim, the
 * launcher and the tests all use it the same way:
 *
 *	struct policy_diag diag;
 *	struct policy *p = policy_parse_file("app.conf", &diag);
 *	if (p == NULL) { policy_diag_print(&diag, stderr); ... }
 *	policy_diag_free(&diag);
 *	policy_bind_program(p, "redis-benchmark");
 *	struct policy_opts o;
 *	if (policy_match(p, POLICY_CLIENT, sa, salen, &o) > 0) ...
 *
 * A parsed policy is immutable apart from policy_bind_program(), which is
 * called once before the policy is shared between threads.  Matching never
 * allocates and never parses.
 */
#ifndef TWSHIM_POLICY_H
#define TWSHIM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/*
 * How long a four-tuple freed without TIME_WAIT is kept out of use (the
 * library's reuse quarantine, shim/reuse.c; the kernel backend's too).
 */
#define POLICY_REUSE_QUARANTINE_MS	10

enum policy_role {
	POLICY_CLIENT,
	POLICY_LISTENER,
	POLICY_ACCEPTED,
	POLICY_NROLES
};

/* Bit (1u << role) in the value policy_roles() returns. */
#define POLICY_ROLE_BIT(r)	(1u << (r))

enum policy_log_level {
	POLICY_LOG_UNSET = -1,
	POLICY_LOG_ERROR = 0,
	POLICY_LOG_WARN,
	POLICY_LOG_INFO,
	POLICY_LOG_DEBUG
};

enum policy_on_error {
	POLICY_ON_ERROR_PASSTHROUGH = 0,
	POLICY_ON_ERROR_EXIT
};

enum policy_close_kind {
	CLOSE_NORMAL = 0,
	CLOSE_ABORT,
	CLOSE_ABORT_IF_IDLE,
	CLOSE_LINGER,		/* wait_ms: SO_LINGER time, whole seconds */
	CLOSE_GRACEFUL,		/* wait_ms: drain limit */
	CLOSE_PEER_FIRST,	/* wait_ms: how long to wait for the peer's FIN */
	CLOSE_FIN_THEN_RESET,	/* TCP_LINGER2 = -1 at close, when the peer has sent data */
	CLOSE_FIN_THEN_RESET_ALWAYS, /* ... whether or not it has ("fin-then-reset always") */
	CLOSE_KIND_COUNT
};

/* "graceful" written without a duration drains for at most this long. */
#define POLICY_GRACEFUL_DEFAULT_MS	30000u

struct policy_close {
	enum policy_close_kind kind;
	uint32_t wait_ms;
	/*
	 * peer-first only: what to do when the peer has not closed in time.
	 * One of normal, abort, abort-if-idle, graceful, fin-then-reset (either
	 * form); fallback_ms is the graceful drain limit.
	 */
	enum policy_close_kind fallback;
	uint32_t fallback_ms;
	/*
	 * "unsafe": leave no TIME_WAIT here even on a connection without TCP
	 * timestamps, where PAWS cannot keep a late duplicate of it out of
	 * the next connection on the same four-tuple.  Only with a strategy
	 * that leaves none (policy_close_leaves_no_time_wait()).
	 */
	bool unsafe;
};

/* fin-then-reset, in either form: the one test of it. */
static inline bool
policy_close_is_fin_then_reset(enum policy_close_kind kind)
{
	return kind == CLOSE_FIN_THEN_RESET || kind == CLOSE_FIN_THEN_RESET_ALWAYS;
}

/* fin-then-reset that acts only once the peer has answered (not "always"). */
static inline bool
policy_close_wants_answer(enum policy_close_kind kind)
{
	return kind == CLOSE_FIN_THEN_RESET;
}

/*
 * Whether `kind` may end a connection with no TIME_WAIT on our side:
 * abort, abort-if-idle and fin-then-reset (either form).
 */
bool policy_close_kind_skips_time_wait(enum policy_close_kind kind);

/* Whether c, or its fallback, is such a strategy ("unsafe" may be said of it). */
bool policy_close_leaves_no_time_wait(const struct policy_close *c);

enum policy_key {
	KEY_REUSEADDR = 0,
	KEY_REUSEPORT,
	KEY_BACKLOG,
	KEY_LOCAL_PORTS,
	KEY_LOCAL_ADDRESS,
	KEY_KEEPALIVE,
	KEY_NODELAY,
	KEY_USER_TIMEOUT,
	KEY_FIN_TIMEOUT,
	KEY_CLOSE,
	KEY_COUNT
};

#define POLICY_KEY_BIT(k)	(1u << (k))

/*
 * The effective options for one socket: the merge of every matching
 * section, first section in file order winning for each key.  A key's
 * value is meaningful only when its bit is in `set`.
 */
struct policy_opts {
	uint32_t set;		/* POLICY_KEY_BIT(k) for each key that has a value */
	uint32_t forced;	/* ... and for each that was written with "force" */

	bool reuseaddr;
	bool reuseport;
	bool nodelay;
	bool keepalive;		/* false: "keepalive = off" */
	int backlog;
	uint16_t port_lo, port_hi;		/* local_ports */
	int local_family;			/* local_address: AF_INET or AF_INET6 */
	unsigned char local_addr[16];		/* network byte order */
	uint32_t keep_idle_s, keep_intvl_s, keep_cnt;	/* 0: system default */
	uint32_t user_timeout_ms;
	uint32_t fin_timeout_s;
	/* Points into the policy, valid as long as the policy lives. */
	const struct policy_close *close;

	/* Where each value came from (1-based line in the policy's file). */
	uint32_t line[KEY_COUNT];
};

struct policy_error {
	unsigned line;		/* 1-based; 0 when the error is about the whole file */
	unsigned col;		/* 1-based; 0 when not meaningful */
	char msg[200];
};

/*
 * The errors found while parsing, in order: all of them are counted in
 * nerrors, the first POLICY_MAX_ERRORS are kept in errors (so a large
 * file of garbage costs no more memory than a small one).  `on_error` is
 * filled in even when the policy is rejected, so the shim knows whether
 * to exit.
 */
#define POLICY_MAX_ERRORS	100

struct policy_diag {
	char file[256];		/* the name used in messages */
	unsigned nerrors;
	struct policy_error *errors;
	enum policy_on_error on_error;
};

struct policy;

/*
 * Parse a policy file.  Returns NULL when the file cannot be read or has
 * any error; every error is then in diag (a policy with errors is never
 * partly applied).  diag must be released with policy_diag_free().
 */
struct policy *policy_parse_file(const char *path, struct policy_diag *diag);

/*
 * Parse policy text.  `name` is used in messages (for example "<inline>").
 * When `semicolons` is true, ';' separates lines as well as '\n' (the
 * TWSHIM_POLICY_TEXT and "twshim -e" form); line numbers then count those
 * segments.
 */
struct policy *policy_parse_string(const char *text, size_t len,
    const char *name, bool semicolons, struct policy_diag *diag);

/* The built-in default policy of the contract, as text. */
extern const char policy_default_text[];

void policy_free(struct policy *p);
void policy_diag_free(struct policy_diag *diag);

/*
 * "FILE:LINE:COL: message", one line each, to `out`; past the errors
 * kept, "FILE: and N more errors".
 */
void policy_diag_print(const struct policy_diag *diag, FILE *out);

/*
 * The name "program =" is matched against, for a process started with
 * argv[0] `argv0`: what follows its last '/' ("curl" for "/usr/bin/curl"),
 * as glibc's program_invocation_short_name; "" for none.  The library
 * names itself by it and `twshim --explain` names PROGRAM by it, so the
 * two always agree.  A script's argv[0] is its interpreter's, as the #!
 * line spells it: "/usr/bin/python3", or "python3" after env.
 */
const char *policy_program_name(const char *argv0);

/*
 * Decide once which "program = GLOB" sections apply, by fnmatch against
 * `program` (a short name such as "curl", from policy_program_name()).
 * Until this is called, and when program is NULL, sections with a program
 * glob never match.
 */
void policy_bind_program(struct policy *p, const char *program);

/* POLICY_ROLE_BIT(r) for each role with at least one active section. */
unsigned policy_roles(const struct policy *p);

/* Bit (1u << kind) for each close strategy an active section uses, fallbacks included. */
unsigned policy_close_kinds(const struct policy *p);

/* Whether a (network order) IPv6 address is IPv4-mapped, ::ffff:a.b.c.d. */
bool policy_addr_is_v4mapped(const unsigned char addr[16]);

/* POLICY_KEY_BIT(k) for each key an active section sets. */
unsigned policy_keys(const struct policy *p);

/* Globals; POLICY_LOG_UNSET when the policy does not say. */
enum policy_log_level policy_log_level(const struct policy *p);
enum policy_on_error policy_on_error(const struct policy *p);
const char *policy_file_name(const struct policy *p);

/*
 * Fill `out` with the effective options for a socket of `role` whose
 * matched address is `sa` (remote for clients, local for listeners and
 * accepted sockets).  An IPv4-mapped IPv6 address matches as IPv4.
 * Returns the number of keys set; 0 when nothing applies.
 * Never allocates; safe to call from any thread once the policy is bound.
 */
int policy_match(const struct policy *p, enum policy_role role,
    const struct sockaddr *sa, socklen_t salen, struct policy_opts *out);

/* Text helpers, for the launcher and for log lines. */
const char *policy_role_name(enum policy_role role);
int policy_role_parse(const char *s, enum policy_role *role);
const char *policy_key_name(enum policy_key key);
const char *policy_close_name(enum policy_close_kind kind);

/* Write "abort", "peer-first 200ms then fin-then-reset", ... into buf. */
int policy_close_format(const struct policy_close *c, char *buf, size_t size);

/*
 * Parse "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" into a sockaddr (port 0
 * when absent).  Returns 0, or -1 when the text is not an address.
 */
int policy_sockaddr_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *len);

/*
 * Print the effective options for such a socket, one per line as
 * "key = value    # FILE:LINE", or a line saying nothing applies; then a
 * "# skipped" line for each section of the role left out for another
 * program, or for want of a port when sa has port 0.
 */
void policy_explain(const struct policy *p, enum policy_role role,
    const struct sockaddr *sa, socklen_t salen, FILE *out);

/* Print the policy back as text (sections in order), for "twshim -v". */
void policy_dump(const struct policy *p, FILE *out);

/*
 * The sections in file order, for a consumer that compiles the policy into
 * another form (the kernel backend) and applies policy_match()'s rule, the
 * first matching section for each key, itself.
 */
struct policy_section_info {
	enum policy_role role;
	int family;			/* 0: any address, AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network order, masked to plen bits */
	unsigned plen;
	bool has_port;
	uint16_t port_lo, port_hi;
	unsigned program_line;		/* line of its "program =", 0 when none */
	unsigned line;			/* line of the section header */
	const struct policy_opts *opts;	/* point into the policy */
	const struct policy_close *close;
};

size_t policy_section_count(const struct policy *p);
void policy_section_get(const struct policy *p, size_t i, struct policy_section_info *out);

#endif
