/*
 * test_policy.c - the policy language: values, errors with positions,
 * precedence, matching, explain and dump.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static struct policy *
parse(const char *text, struct policy_diag *diag)
{
	return policy_parse_string(text, strlen(text), "t.conf", false, diag);
}

static struct policy *
parse_ok(const char *text)
{
	struct policy_diag diag;
	struct policy *p = parse(text, &diag);

	if (p == NULL)
		policy_diag_print(&diag, stderr);
	cr_assert_not_null(p, "should parse: %s", text);
	policy_diag_free(&diag);
	return p;
}

/* The policy must fail with exactly one error, at line:col, containing msg. */
static void
expect_error(const char *text, unsigned line, unsigned col, const char *msg)
{
	struct policy_diag diag;
	struct policy *p = parse(text, &diag);

	cr_assert_null(p, "should fail: %s", text);
	cr_assert_eq(diag.nerrors, 1, "one error for %s, got %u (first: %s)", text,
	    diag.nerrors, diag.nerrors ? diag.errors[0].msg : "");
	cr_expect_eq(diag.errors[0].line, line, "line of '%s' in %s", diag.errors[0].msg, text);
	cr_expect_eq(diag.errors[0].col, col, "column of '%s' in %s", diag.errors[0].msg, text);
	cr_expect(strstr(diag.errors[0].msg, msg) != NULL, "message '%s' lacks '%s'",
	    diag.errors[0].msg, msg);
	policy_diag_free(&diag);
}

static socklen_t
addr(const char *s, struct sockaddr_storage *ss)
{
	socklen_t len;

	cr_assert_eq(policy_sockaddr_parse(s, ss, &len), 0, "address %s", s);
	return len;
}

static int
match(const struct policy *p, enum policy_role role, const char *a, struct policy_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(a, &ss);

	return policy_match(p, role, (struct sockaddr *)&ss, len, o);
}

Test(policy_parse, default_policy)
{
	struct policy *p = parse_ok(policy_default_text);
	struct policy_opts o;

	cr_assert_eq(policy_roles(p), POLICY_ROLE_BIT(POLICY_CLIENT) | POLICY_ROLE_BIT(POLICY_LISTENER));
	cr_assert_eq(match(p, POLICY_LISTENER, "0.0.0.0:80", &o), 1);
	cr_assert(o.reuseaddr);
	cr_assert_eq(match(p, POLICY_CLIENT, "[2001:db8::1]:443", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_FIN_THEN_RESET);
	cr_assert_eq(match(p, POLICY_ACCEPTED, "1.2.3.4:80", &o), 0);
	policy_free(p);
}

Test(policy_parse, every_key_and_value)
{
	struct policy *p = parse_ok(
	    "log = debug\n"
	    "on_error = exit\n"
	    "[listener *:8080]\n"
	    "reuseaddr = force\n"
	    "reuseport = on\n"
	    "backlog = 4096\n"
	    "keepalive = 60s, 10s, 5\n"
	    "[client 10.0.0.0/8:6379]   # a comment\n"
	    "local_ports = 20000-29999\n"
	    "local_address = 10.1.2.3\n"
	    "keepalive = off\n"
	    "nodelay = yes\n"
	    "user_timeout = 1500ms\n"
	    "fin_timeout = 2m\n"
	    "close = peer-first 200ms then graceful 2s\n");
	struct policy_opts o;

	cr_assert_eq(policy_log_level(p), POLICY_LOG_DEBUG);
	cr_assert_eq(policy_on_error(p), POLICY_ON_ERROR_EXIT);
	cr_assert_eq(match(p, POLICY_LISTENER, "0.0.0.0:8080", &o), 4);
	cr_assert(o.reuseaddr && (o.forced & POLICY_KEY_BIT(KEY_REUSEADDR)));
	cr_assert(o.reuseport && !(o.forced & POLICY_KEY_BIT(KEY_REUSEPORT)));
	cr_assert_eq(o.backlog, 4096);
	cr_assert(o.keepalive);
	cr_assert_eq(o.keep_idle_s, 60);
	cr_assert_eq(o.keep_intvl_s, 10);
	cr_assert_eq(o.keep_cnt, 5);
	cr_assert_eq(o.line[KEY_BACKLOG], 6);
	cr_assert_eq(match(p, POLICY_CLIENT, "10.9.8.7:6379", &o), 7);
	cr_assert_eq(o.port_lo, 20000);
	cr_assert_eq(o.port_hi, 29999);
	cr_assert_eq(o.local_family, AF_INET);
	cr_assert_eq(memcmp(o.local_addr, "\x0a\x01\x02\x03", 4), 0);
	cr_assert_not(o.keepalive);
	cr_assert(o.nodelay);
	cr_assert_eq(o.user_timeout_ms, 1500);
	cr_assert_eq(o.fin_timeout_s, 120);
	cr_assert_eq(o.close->kind, CLOSE_PEER_FIRST);
	cr_assert_eq(o.close->wait_ms, 200);
	cr_assert_eq(o.close->fallback, CLOSE_GRACEFUL);
	cr_assert_eq(o.close->fallback_ms, 2000);
	cr_assert_eq(o.line[KEY_CLOSE], 15);
	policy_free(p);
}

Test(policy_parse, close_strategies)
{
	static const struct {
		const char *text;
		enum policy_close_kind kind;
		uint32_t wait;
		enum policy_close_kind fallback;
		const char *printed;
	} cases[] = {
		{ "normal", CLOSE_NORMAL, 0, CLOSE_NORMAL, "normal" },
		{ "abort", CLOSE_ABORT, 0, CLOSE_NORMAL, "abort" },
		{ "abort-if-idle", CLOSE_ABORT_IF_IDLE, 0, CLOSE_NORMAL, "abort-if-idle" },
		{ "linger 5s", CLOSE_LINGER, 5000, CLOSE_NORMAL, "linger 5s" },
		{ "graceful", CLOSE_GRACEFUL, POLICY_GRACEFUL_DEFAULT_MS, CLOSE_NORMAL, "graceful 30s" },
		{ "graceful 1500ms", CLOSE_GRACEFUL, 1500, CLOSE_NORMAL, "graceful 1500ms" },
		{ "peer-first 200ms", CLOSE_PEER_FIRST, 200, CLOSE_NORMAL, "peer-first 200ms" },
		{ "peer-first 1s then abort", CLOSE_PEER_FIRST, 1000, CLOSE_ABORT, "peer-first 1s then abort" },
		{ "peer-first 2m then abort-if-idle", CLOSE_PEER_FIRST, 120000, CLOSE_ABORT_IF_IDLE,
		    "peer-first 2m then abort-if-idle" },
		{ "fin-then-reset", CLOSE_FIN_THEN_RESET, 0, CLOSE_NORMAL, "fin-then-reset" },
		{ "fin-then-reset always", CLOSE_FIN_THEN_RESET_ALWAYS, 0, CLOSE_NORMAL,
		    "fin-then-reset always" },
		{ "peer-first 200ms then fin-then-reset", CLOSE_PEER_FIRST, 200, CLOSE_FIN_THEN_RESET,
		    "peer-first 200ms then fin-then-reset" },
		{ "peer-first 1s then fin-then-reset always", CLOSE_PEER_FIRST, 1000,
		    CLOSE_FIN_THEN_RESET_ALWAYS, "peer-first 1s then fin-then-reset always" },
		{ "force fin-then-reset", CLOSE_FIN_THEN_RESET, 0, CLOSE_NORMAL, "fin-then-reset" },
		{ "abort unsafe", CLOSE_ABORT, 0, CLOSE_NORMAL, "abort unsafe" },
		{ "fin-then-reset always unsafe", CLOSE_FIN_THEN_RESET_ALWAYS, 0, CLOSE_NORMAL,
		    "fin-then-reset always unsafe" },
		{ "peer-first 1s then abort-if-idle unsafe", CLOSE_PEER_FIRST, 1000,
		    CLOSE_ABORT_IF_IDLE, "peer-first 1s then abort-if-idle unsafe" },
	};
	char text[128], buf[128];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct policy_opts o;
		struct policy *p;

		snprintf(text, sizeof text, "[client *]\nclose = %s\n", cases[i].text);
		p = parse_ok(text);
		cr_assert_eq(match(p, POLICY_CLIENT, "1.1.1.1:1", &o), 1);
		cr_expect_eq(o.close->kind, cases[i].kind, "%s", cases[i].text);
		cr_expect_eq(o.close->wait_ms, cases[i].wait, "%s", cases[i].text);
		cr_expect_eq(o.close->fallback, cases[i].fallback, "%s", cases[i].text);
		cr_expect_eq(o.close->unsafe, strstr(cases[i].text, "unsafe") != NULL, "%s",
		    cases[i].text);
		policy_close_format(o.close, buf, sizeof buf);
		cr_expect_str_eq(buf, cases[i].printed);
		policy_free(p);
	}
}

Test(policy_errors, each_kind_with_position)
{
	expect_error("[client *]\nfoo = 1\n", 2, 1, "unknown key 'foo' (expected reuseaddr,");
	expect_error("[client *]\nclose = sometimes\n", 2, 9, "unknown close strategy 'sometimes'");
	expect_error("[client *]\nclose = linger 5s unsafe\n", 2, 19,
	    "'unsafe' is for a strategy that leaves no TIME_WAIT");
	expect_error("[client *]\nclose = peer-first 1s then graceful unsafe\n", 2, 37,
	    "'unsafe' is for a strategy that leaves no TIME_WAIT");
	expect_error("[client *]\nnodelay = maybe\n", 2, 11, "expected yes or no");
	expect_error("[client *]\nbacklog = 5\n", 2, 1,
	    "'backlog' does not apply to client sections (only to listener)");
	expect_error("[server *]\nbacklog = 5\nclose = abort\n", 1, 2,
	    "unknown role 'server'");
	expect_error("[listener *]\nclose = abort\n", 2, 1,
	    "does not apply to listener sections (only to client and accepted)");
	expect_error("[accepted *]\nlocal_ports = 1-2\n", 2, 1, "does not apply to accepted");
	expect_error("[client 10.0.0.0/33]\n", 1, 18, "bad prefix length '33'");
	expect_error("[client 10.0.0.300]\n", 1, 9, "bad address");
	expect_error("[client [::1/129]]\n", 1, 14, "bad prefix length '129'");
	expect_error("[client *:9000-8000]\n", 1, 11, "empty port range 9000-8000");
	expect_error("[client *:0]\n", 1, 11, "bad port '0'");
	expect_error("[client [10.0.0.1]:80]\n", 1, 9, "brackets are for IPv6");
	expect_error("[client [::1]80]\n", 1, 14, "expected ':PORT'");
	expect_error("[client ::1:6379]\n", 1, 12, "write [::1]:6379, for the address alone [::1:6379]");
	expect_error("[client fe80::2:443]\n", 1, 16, "write [fe80::2]:443");
	expect_error("[client *]\nlocal_ports = 30000-20000\n", 2, 15, "empty port range");
	expect_error("[client *]\nclose = abort\nclose = normal\n", 3, 1,
	    "duplicate key 'close' (first set on line 2)");
	expect_error("[client *\nclose = abort\n", 1, 1, "unterminated section header");
	expect_error("[server *]\n", 1, 2, "unknown role 'server'");
	expect_error("[client]\n", 1, 8, "missing address pattern");
	expect_error("[client *] junk\n", 1, 12, "unexpected 'junk'");
	expect_error("[client *]\nclose abort\n", 2, 1, "expected 'key = value'");
	expect_error("[client *]\nclose =\n", 2, 8, "missing value for 'close'");
	expect_error("close = abort\n", 1, 1, "outside a section");
	expect_error("[client *]\nlog = info\n", 2, 1, "global key");
	expect_error("log = loud\n", 1, 7, "log must be");
	expect_error("on_error = crash\n", 1, 12, "on_error must be");
	expect_error("[client *]\nuser_timeout = 5\n", 2, 16, "missing unit");
	expect_error("[client *]\nfin_timeout = 500ms\n", 2, 15, "whole seconds");
	expect_error("[client *]\nfin_timeout = 121s\n", 2, 15, "between 1s and 2m");
	expect_error("[client *]\nkeepalive = 60s,10s\n", 2, 13, "bad keepalive");
	expect_error("[client *]\nkeepalive = 60s,10s,500\n", 2, 21, "keepalive count");
	expect_error("[client *]\nkeepalive = 60s, 10s, 500\n", 2, 23, "keepalive count");
	expect_error("[client *]\nkeepalive = 60s,10x,5\n", 2, 17, "bad duration '10x'");
	expect_error("[client *]\nkeepalive = 60s,,10s,5\n", 2, 17, "empty field");
	expect_error("[client *]\nkeepalive = ,60s,10s,5\n", 2, 13, "empty field");
	expect_error("[client *]\nkeepalive = 60s,10s,5,\n", 2, 23, "empty field");
	expect_error("[client *]\nkeepalive = 60s,10s,5,JUNK\n", 2, 22, "unexpected ',JUNK'");
	expect_error("[client *]\nkeepalive = 60s,10s,5 junk\n", 2, 21, "keepalive count");
	expect_error("[client *]\nkeepalive = 1500ms,10s,5\n", 2, 13, "whole seconds");
	expect_error("[client *]\nclose = linger\n", 2, 9, "linger needs a duration");
	expect_error("[client *]\nclose = peer-first 1s then linger\n", 2, 28, "bad fallback");
	expect_error("[client *]\nclose = fin-then-reset sometimes\n", 2, 24,
	    "unexpected 'sometimes' after 'fin-then-reset'");
	expect_error("[client *]\nclose = fin-then-reset always 5s\n", 2, 31, "unexpected '5s'");
	expect_error("[client *]\nclose = always\n", 2, 9, "unknown close strategy 'always'");
	expect_error("[client *]\nclose = peer-first 1s then fin-then-reset never\n", 2, 43,
	    "unexpected 'never'");
	expect_error("[listener *]\nclose = fin-then-reset\n", 2, 1,
	    "'close' does not apply to listener sections");
	expect_error("[client *]\nclose = peer-first 1s or abort\n", 2, 23, "expected 'then");
	expect_error("[client *]\nclose = abort now\n", 2, 15, "unexpected 'now'");
	expect_error("[listener *]\nbacklog = force 5\n", 2, 11, "cannot be forced");
	expect_error("[client *]\nclose = linger 0s\n", 2, 16, "say so with close = abort");
	expect_error("[client *]\nclose = linger 250ms\n", 2, 16, "whole seconds");
	expect_error("[client *]\nreuseaddr = yes no\n", 2, 17, "unexpected 'no'");
	expect_error("[listener *]\nbacklog = 10 20\n", 2, 14, "unexpected '20'");
	expect_error("[client *]\nuser_timeout = 5s 6s\n", 2, 19, "unexpected '6s'");
	expect_error("[client *]\nnodelay = force yes no\n", 2, 21, "unexpected 'no'");
	expect_error("[client [::1]:80\nclose = abort\n", 1, 1, "unterminated section header");
	expect_error("[client *]]\n", 1, 11, "unexpected ']'");
	expect_error("[client *]\nlocal_address = 10.0.0.1:80\n", 2, 17, "local_address must be");
	expect_error("[listener *]\nbacklog = 0\n", 2, 11, "backlog must be");
	expect_error("[client *]\nprogram = a\nprogram = b\n", 3, 1, "duplicate key 'program'");
	expect_error("[client *]\nclose = ab\x01rt\n", 2, 11, "invalid character 0x01");
}

/* A key whose first value was bad is still a duplicate the second time. */
Test(policy_errors, duplicate_after_a_bad_value)
{
	struct policy_diag diag;

	cr_assert_null(parse("[client *]\nclose = bogus\nclose = abort\n", &diag));
	cr_assert_eq(diag.nerrors, 2);
	cr_assert_eq(diag.errors[1].line, 3);
	cr_assert(strstr(diag.errors[1].msg, "duplicate key 'close'") != NULL);
	policy_diag_free(&diag);
}

/* CRLF files: the CR counts neither as a character nor toward the length. */
Test(policy_parse, crlf_and_byte_order_mark)
{
	char text[1100];
	struct policy *p;

	memset(text, 0, sizeof text);
	strcpy(text, "\xef\xbb\xbf[client *]\r\nclose = abort\r\n# ");
	memset(text + strlen(text), 'x', 1021);
	strcat(text, "\r\n");
	p = parse_ok(text);
	policy_free(p);
}

/* An IPv4-mapped pattern stands for the IPv4 address, as sockets are matched. */
Test(policy_match, mapped_pattern_is_ipv4)
{
	struct policy *p = parse_ok(
	    "[client [::ffff:10.0.0.0/104]:80]\nclose = abort\n"
	    "[client ::ffff:192.0.2.1]\nclose = normal\n");
	struct policy_opts o;

	cr_assert_eq(match(p, POLICY_CLIENT, "10.1.2.3:80", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_ABORT);
	cr_assert_eq(match(p, POLICY_CLIENT, "[::ffff:10.1.2.3]:80", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_ABORT);
	cr_assert_eq(match(p, POLICY_CLIENT, "11.1.2.3:80", &o), 0);
	cr_assert_eq(match(p, POLICY_CLIENT, "192.0.2.1:5", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_NORMAL);
	policy_free(p);
}

/* local_ports and local_address may overrule the program's own bind(). */
Test(policy_parse, address_keys_can_be_forced)
{
	struct policy *p = parse_ok("[client *]\nlocal_ports = force 20000-20099\n"
	    "local_address = force 127.0.0.2\n");
	struct policy_opts o;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	cr_assert_eq(match(p, POLICY_CLIENT, "1.2.3.4:5", &o), 2);
	cr_assert(o.forced & POLICY_KEY_BIT(KEY_LOCAL_PORTS));
	cr_assert(o.forced & POLICY_KEY_BIT(KEY_LOCAL_ADDRESS));
	policy_dump(p, f);
	fclose(f);
	cr_assert(strstr(out, "local_ports = force 20000-20099\n") != NULL, "%s", out);
	cr_assert(strstr(out, "local_address = force 127.0.0.2\n") != NULL, "%s", out);
	free(out);
	policy_free(p);
}

Test(policy_errors, nul_byte_and_long_line)
{
	struct policy_diag diag;
	char text[2200];
	struct policy *p;

	p = policy_parse_string("[client *]\nclo\0se = abort\n", 25, "t", false, &diag);
	cr_assert_null(p);
	cr_assert_eq(diag.nerrors, 1);
	cr_assert_eq(diag.errors[0].line, 2);
	cr_assert_eq(diag.errors[0].col, 4);
	cr_assert(strstr(diag.errors[0].msg, "0x00") != NULL);
	policy_diag_free(&diag);

	memset(text, 'x', sizeof text);
	memcpy(text, "[client *]\n# ", 13);
	text[sizeof text - 1] = '\0';
	p = parse(text, &diag);
	cr_assert_null(p);
	cr_assert_eq(diag.nerrors, 1);
	cr_assert_eq(diag.errors[0].line, 2);
	cr_assert_eq(diag.errors[0].col, 1024);
	cr_assert(strstr(diag.errors[0].msg, "line too long") != NULL);
	policy_diag_free(&diag);
}

Test(policy_errors, all_errors_reported_nothing_applied)
{
	struct policy_diag diag;
	struct policy *p = parse(
	    "log = loud\n"
	    "[client 10.0.0.0/33:6379]\n"
	    "close = sometimes\n"
	    "nodelay = maybe\n"
	    "[listener *:8080]\n"
	    "close = abort\n"
	    "[server *]\n", &diag);
	static const unsigned where[][2] = { { 1, 7 }, { 2, 18 }, { 3, 9 }, { 4, 11 }, { 6, 1 }, { 7, 2 } };

	cr_assert_null(p, "a policy with errors is rejected whole");
	cr_assert_eq(diag.nerrors, 6);
	for (unsigned i = 0; i < 6; i++) {
		cr_expect_eq(diag.errors[i].line, where[i][0], "error %u line", i);
		cr_expect_eq(diag.errors[i].col, where[i][1], "error %u column", i);
	}
	policy_diag_free(&diag);
}

Test(policy_errors, on_error_known_even_when_rejected)
{
	struct policy_diag diag;

	cr_assert_null(parse("on_error = exit\n[client *]\nclose = what\n", &diag));
	cr_assert_eq(diag.on_error, POLICY_ON_ERROR_EXIT);
	policy_diag_free(&diag);
}

Test(policy_errors, missing_file)
{
	struct policy_diag diag;

	cr_assert_null(policy_parse_file("/nonexistent/x.conf", &diag));
	cr_assert_eq(diag.nerrors, 1);
	cr_assert_eq(diag.errors[0].line, 0);
	cr_assert(strstr(diag.errors[0].msg, "cannot read") != NULL);
	policy_diag_free(&diag);
}

Test(policy_parse, semicolons_separate_lines)
{
	struct policy_diag diag;
	const char *text = "[client *];close = abort;nodelay = perhaps";
	struct policy *p = policy_parse_string(text, strlen(text), "<inline>", true, &diag);

	cr_assert_null(p);
	cr_assert_eq(diag.nerrors, 1);
	cr_assert_eq(diag.errors[0].line, 3);
	cr_assert_eq(diag.errors[0].col, 11);
	policy_diag_free(&diag);
	text = "[client *];close = abort";
	p = policy_parse_string(text, strlen(text), "<inline>", true, &diag);
	cr_assert_not_null(p);
	policy_diag_free(&diag);
	policy_free(p);
}

Test(policy_match, first_section_wins_per_key)
{
	struct policy *p = parse_ok(
	    "[client 10.1.0.0/16:6379]\n"
	    "close = abort\n"
	    "[client 10.0.0.0/8]\n"
	    "close = normal\n"
	    "nodelay = yes\n"
	    "[client *]\n"
	    "close = graceful\n"
	    "user_timeout = 5s\n");
	struct policy_opts o;

	cr_assert_eq(match(p, POLICY_CLIENT, "10.1.2.3:6379", &o), 3);
	cr_assert_eq(o.close->kind, CLOSE_ABORT);
	cr_assert_eq(o.line[KEY_CLOSE], 2);
	cr_assert(o.nodelay);
	cr_assert_eq(o.line[KEY_NODELAY], 5);
	cr_assert_eq(o.user_timeout_ms, 5000);
	cr_assert_eq(match(p, POLICY_CLIENT, "10.1.2.3:80", &o), 3);
	cr_assert_eq(o.close->kind, CLOSE_NORMAL, "port outside the first section");
	cr_assert_eq(match(p, POLICY_CLIENT, "192.168.1.1:6379", &o), 2);
	cr_assert_eq(o.close->kind, CLOSE_GRACEFUL);
	policy_free(p);
}

Test(policy_match, ipv6_and_mapped)
{
	struct policy *p = parse_ok(
	    "[client [2001:db8::/32]:443]\nclose = abort\n"
	    "[client 127.0.0.0/8]\nclose = graceful\n"
	    "[client ::1]\nclose = linger 1s\n");
	struct policy_opts o;

	cr_assert_eq(match(p, POLICY_CLIENT, "[2001:db8:1::5]:443", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_ABORT);
	cr_assert_eq(match(p, POLICY_CLIENT, "[2001:db9::5]:443", &o), 0);
	cr_assert_eq(match(p, POLICY_CLIENT, "[2001:db8::5]:80", &o), 0);
	cr_assert_eq(match(p, POLICY_CLIENT, "[::ffff:127.0.0.1]:80", &o), 1,
	    "a v4-mapped address matches as IPv4");
	cr_assert_eq(o.close->kind, CLOSE_GRACEFUL);
	cr_assert_eq(match(p, POLICY_CLIENT, "[::1]:80", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_LINGER);
	cr_assert_eq(match(p, POLICY_CLIENT, "127.0.0.1", &o), 1);
	policy_free(p);
}

Test(policy_match, cidr_edges_and_ports)
{
	struct policy *p = parse_ok(
	    "[client 0.0.0.0/0:1-1024]\nclose = abort\n"
	    "[client 192.0.2.7/32]\nclose = normal\n"
	    "[client ::/0]\nclose = graceful\n"
	    "[client 198.51.100.77/24]\nnodelay = yes\n");
	struct policy_opts o;

	cr_assert_eq(match(p, POLICY_CLIENT, "8.8.8.8:1024", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_ABORT);
	cr_assert_eq(match(p, POLICY_CLIENT, "8.8.8.8:1025", &o), 0);
	cr_assert_eq(match(p, POLICY_CLIENT, "192.0.2.7:9999", &o), 1);
	cr_assert_eq(match(p, POLICY_CLIENT, "192.0.2.8:9999", &o), 0);
	cr_assert_eq(match(p, POLICY_CLIENT, "[fe80::1]:5", &o), 1);
	cr_assert_eq(o.close->kind, CLOSE_GRACEFUL, "::/0 matches every IPv6 address");
	cr_assert_eq(match(p, POLICY_CLIENT, "198.51.100.1:5000", &o), 1,
	    "host bits beyond the prefix are ignored");
	cr_assert_eq(policy_match(p, POLICY_CLIENT, NULL, 0, &o), 0);
	policy_free(p);
}

Test(policy_match, program_globs)
{
	struct policy *p = parse_ok(
	    "[client *]\nprogram = redis-*\nclose = abort\n"
	    "[client *]\nclose = normal\n");
	struct policy_opts o;

	match(p, POLICY_CLIENT, "1.2.3.4:6379", &o);
	cr_assert_eq(o.close->kind, CLOSE_NORMAL, "unbound: program sections never match");
	policy_bind_program(p, "redis-benchmark");
	match(p, POLICY_CLIENT, "1.2.3.4:6379", &o);
	cr_assert_eq(o.close->kind, CLOSE_ABORT);
	policy_bind_program(p, "curl");
	match(p, POLICY_CLIENT, "1.2.3.4:6379", &o);
	cr_assert_eq(o.close->kind, CLOSE_NORMAL);
	policy_bind_program(p, NULL);
	match(p, POLICY_CLIENT, "1.2.3.4:6379", &o);
	cr_assert_eq(o.close->kind, CLOSE_NORMAL);
	policy_free(p);
}

Test(policy_explain, golden)
{
	struct policy *p = parse_ok(
	    "[client 10.0.0.0/8:6379]\n"
	    "close = force abort-if-idle\n"
	    "local_ports = 20000-29999\n"
	    "[client *]\n"
	    "keepalive = 2m,10s,5\n"
	    "close = normal\n");
	struct sockaddr_storage ss;
	socklen_t len = addr("10.1.2.3:6379", &ss);
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	policy_explain(p, POLICY_CLIENT, (struct sockaddr *)&ss, len, f);
	len = addr("[::1]:80", &ss);
	policy_explain(p, POLICY_ACCEPTED, (struct sockaddr *)&ss, len, f);
	fclose(f);
	cr_assert_str_eq(out,
	    "local_ports = 20000-29999                    # t.conf:3\n"
	    "keepalive = 2m,10s,5                         # t.conf:5\n"
	    "close = force abort-if-idle                  # t.conf:2\n"
	    "# warning: abort-if-idle resets an idle connection: the peer has every byte in "
	    "its kernel, but its read ends in ECONNRESET instead of EOF; fin-then-reset "
	    "leaves no TIME_WAIT either\n"
	    "# note: leaves no TIME_WAIT only on a connection with TCP timestamps (PAWS then "
	    "guards the next one on the same four-tuple) whose four-tuple cannot come back "
	    "within 10 ms; otherwise a normal close (add 'unsafe' to act anyway)\n"
	    "no rule applies to accepted [::1]:80; twshim leaves such sockets alone\n");
	free(out);
	policy_free(p);
}

Test(policy_explain, dump_parses_back_the_same)
{
	const char *text =
	    "log = info\n"
	    "[listener [2001:db8::/32]:443]\nreuseaddr = force\nbacklog = 100\n"
	    "[client 10.0.0.0/8:1000-2000]\nprogram = x*\nclose = peer-first 1500ms then graceful 2s\n"
	    "keepalive = yes\nuser_timeout = 0s\nlocal_address = ::1\n"
	    "[accepted *]\nclose = linger 3s\nkeepalive = force 30s,5s,3\n";
	struct policy *p = parse_ok(text), *q;
	struct policy_opts a, b;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	policy_dump(p, f);
	fclose(f);
	q = parse_ok(out);
	policy_bind_program(p, "xyz");
	policy_bind_program(q, "xyz");
	cr_assert_eq(match(p, POLICY_CLIENT, "10.0.0.1:1500", &a), match(q, POLICY_CLIENT, "10.0.0.1:1500", &b));
	cr_assert_eq(a.set, b.set);
	cr_assert_eq(a.close->kind, b.close->kind);
	cr_assert_eq(a.close->fallback_ms, b.close->fallback_ms);
	cr_assert_eq(memcmp(a.local_addr, b.local_addr, 16), 0);
	cr_assert_eq(match(p, POLICY_LISTENER, "[2001:db8::9]:443", &a),
	    match(q, POLICY_LISTENER, "[2001:db8::9]:443", &b));
	cr_assert_eq(a.forced, b.forced);
	cr_assert_eq(match(p, POLICY_ACCEPTED, "1.1.1.1:1", &a), match(q, POLICY_ACCEPTED, "1.1.1.1:1", &b));
	cr_assert_eq(a.keep_cnt, b.keep_cnt);
	free(out);
	policy_free(p);
	policy_free(q);
}

Test(policy_explain, sockaddr_parse)
{
	struct sockaddr_storage ss;
	socklen_t len;

	cr_assert_eq(policy_sockaddr_parse("1.2.3.4", &ss, &len), 0);
	cr_assert_eq(policy_sockaddr_parse("1.2.3.4:80", &ss, &len), 0);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 80);
	cr_assert_eq(policy_sockaddr_parse("[::1]:443", &ss, &len), 0);
	cr_assert_eq(ss.ss_family, AF_INET6);
	cr_assert_eq(policy_sockaddr_parse("::1", &ss, &len), 0);
	cr_assert_eq(policy_sockaddr_parse("[::ffff:1.2.3.4]:80", &ss, &len), 0);
	cr_assert_eq(policy_sockaddr_parse("host:80", &ss, &len), -1);
	cr_assert_eq(policy_sockaddr_parse("1.2.3.4:70000", &ss, &len), -1);
	cr_assert_eq(policy_sockaddr_parse("[::1", &ss, &len), -1);
}

Test(policy_program, named_as_glibc_names_it)
{
	cr_assert_str_eq(policy_program_name("/usr/bin/curl"), "curl");
	cr_assert_str_eq(policy_program_name("curl"), "curl");
	cr_assert_str_eq(policy_program_name("./bin/redis-cli"), "redis-cli");
	cr_assert_str_eq(policy_program_name("dir/"), "");
	cr_assert_str_eq(policy_program_name(NULL), "");
}
