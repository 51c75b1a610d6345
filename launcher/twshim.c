/*
 * twshim - run a program with libtwshim.so preloaded, and the tools around
 * the policy language (--check, --explain, --sysctl, --stats).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "launcher.h"
#include "policy.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: twshim [-p POLICY | -e TEXT] [-v | -q] [--dry-run] [--] COMMAND [ARG...]\n"
	    "       twshim --cgroup [-p POLICY | -e TEXT] [-v | -q] -- COMMAND [ARG...]\n"
	    "       twshim --cgroup=PATH [-p POLICY | -e TEXT] [-v | -q]\n"
	    "       twshim --check [--cgroup] POLICY... | --check [--cgroup] -e TEXT\n"
	    "       twshim --explain [POLICY|-e TEXT] ROLE ADDR[:PORT] [PROGRAM]\n"
	    "       twshim --sysctl\n"
	    "       twshim --stats [--format text|json|prometheus] DIR|FILE...\n"
	    "       twshim --diagnose [--format text|json]\n"
	    "       twshim --systemd UNIT [-p POLICY] [--write]\n"
	    "       twshim --version | --help\n"
	    "\n"
	    "Runs COMMAND with libtwshim.so preloaded, so that its TCP sockets are set up\n"
	    "and closed as the policy says (see twshim.conf(5)).\n"
	    "\n"
	    "  -p POLICY     policy file (sets TWSHIM_POLICY)\n"
	    "  -e TEXT       policy text, ';' between lines (sets TWSHIM_POLICY_TEXT)\n"
	    "                with neither, TWSHIM_POLICY or TWSHIM_POLICY_TEXT from the\n"
	    "                environment, else the built-in default policy:\n"
	    "                  [listener *];reuseaddr = yes;[client *];close = fin-then-reset\n"
	    "  -v            log what twshim does (TWSHIM_LOG=info) and print the policy\n"
	    "  -q            only errors, and no warnings from the launcher\n"
	    "  --dry-run     log what would be done, change nothing (TWSHIM_DRY_RUN=1)\n"
	    "  --check       validate policies: exit 0, or print the errors of each (the\n"
	    "                first 100, then how many more) and exit 1\n"
	    "  --explain     print the options a socket of ROLE (client, listener,\n"
	    "                accepted) at ADDR would get, each with the line that set it;\n"
	    "                without POLICY, the policy a run would use (TWSHIM_POLICY_TEXT,\n"
	    "                TWSHIM_POLICY, else the built-in default); PROGRAM (a name,\n"
	    "                a path or a script) selects 'program =' sections by the name\n"
	    "                the library will match; sections left out (another program,\n"
	    "                no port given) are listed as skipped\n"
	    "  --cgroup      the policy through the kernel (BPF), for every program of a\n"
	    "                cgroup, Go and static ones included: a fresh cgroup for\n"
	    "                COMMAND, or =PATH, an existing one, until SIGTERM; needs\n"
	    "                CAP_BPF and CAP_NET_ADMIN; --check --cgroup: the keys it takes\n"
	    "  --sysctl      the TCP sysctls twshim replaces, and their per-socket forms\n"
	    "  --stats       sum TWSHIM_STATS counters (a directory's live files, or\n"
	    "                files written at exit) per program and in total;\n"
	    "                --format json, or prometheus (node_exporter's textfile\n"
	    "                collector; per program only, sum() gives the total)\n"
	    "  --diagnose    this network namespace's TIME_WAIT: client side by destination\n"
	    "                (local ports left before EADDRNOTAVAIL), server side by\n"
	    "                listening port, the process to wrap, and the sysctls;\n"
	    "                as a user, only your own processes are seen\n"
	    "  --systemd     print the drop-in that runs UNIT under twshim (this\n"
	    "                launcher's library, POLICY checked before each start,\n"
	    "                stats in /run/twshim-NAME); --write installs it in\n"
	    "                /etc/systemd/system/UNIT.d/twshim.conf\n"
	    "\n"
	    "Exit status: COMMAND's own; 125 for a twshim usage or policy error; 126 when\n"
	    "COMMAND cannot run, 127 when it is not found.\n");
}

static struct policy *
load(const char *path, const char *text, struct policy_diag *diag)
{
	if (text != NULL)
		return policy_parse_string(text, strlen(text), "<inline>", true, diag);
	return policy_parse_file(path, diag);
}

static int
cmd_check(const char *path, const char *text)
{
	struct policy_diag diag;
	struct policy *p = load(path, text, &diag);

	if (p == NULL) {
		policy_diag_print(&diag, stderr);
		fprintf(stderr, "%s: %u error%s\n", diag.file, diag.nerrors,
		    diag.nerrors == 1 ? "" : "s");
		policy_diag_free(&diag);
		return 1;
	}
	printf("%s: ok\n", diag.file);
	policy_diag_free(&diag);
	policy_free(p);
	return 0;
}

/*
 * The policy a run without -p or -e uses: TWSHIM_POLICY_TEXT, else
 * TWSHIM_POLICY, else the built-in default (path and text both NULL).
 */
static void
environment_policy(const char **path, const char **text)
{
	const char *env_text = getenv("TWSHIM_POLICY_TEXT");
	const char *env_path = getenv("TWSHIM_POLICY");

	*path = *text = NULL;
	if (env_text != NULL && *env_text != '\0')
		*text = env_text;
	else if (env_path != NULL && *env_path != '\0')
		*path = env_path;
}

/*
 * The name the library will match "program =" against, when the program
 * is started as `program`: a script's interpreter, else the last part of
 * the path.  A comment says so when it is not `program` itself.
 */
static const char *
explain_program_name(const char *program, char *name, size_t size)
{
	char interp[256];

	if (program_name_for(program, name, size, interp, sizeof interp)) {
		printf("# %s is a script (#!%s): 'program =' is matched against %s, its "
		    "interpreter, not %s\n", program, interp, name, policy_program_name(program));
		return name;
	}
	if (strcmp(policy_program_name(program), program) != 0)
		printf("# 'program =' is matched against %s, the last part of %s\n",
		    policy_program_name(program), program);
	return policy_program_name(program);
}

static int
cmd_explain(bool given, const char *path, const char *text, const char *role_s,
    const char *addr_s, const char *program)
{
	struct sockaddr_storage ss;
	struct policy_diag diag;
	enum policy_role role;
	char name[256];
	struct policy *p;
	socklen_t len;

	if (policy_role_parse(role_s, &role) < 0) {
		fprintf(stderr, "twshim: unknown role '%s' (expected client, listener or accepted)\n",
		    role_s);
		return EXIT_USAGE;
	}
	if (policy_sockaddr_parse(addr_s, &ss, &len) < 0) {
		fprintf(stderr, "twshim: '%s' is not an address (ADDR, ADDR:PORT or [V6]:PORT)\n",
		    addr_s);
		return EXIT_USAGE;
	}
	if (!given)
		environment_policy(&path, &text);
	if (path == NULL && text == NULL)
		p = policy_parse_string(policy_default_text, strlen(policy_default_text),
		    "<default>", false, &diag);
	else
		p = load(path, text, &diag);
	if (p == NULL) {
		policy_diag_print(&diag, stderr);
		policy_diag_free(&diag);
		return EXIT_USAGE;
	}
	policy_diag_free(&diag);
	if (!given)
		printf("# no POLICY given: %s%s%s\n", text != NULL ? "the one in TWSHIM_POLICY_TEXT" :
		    path != NULL ? "the one in TWSHIM_POLICY, " : "the built-in default policy",
		    path != NULL ? path : "", text == NULL && path == NULL ? ", as for a run without one" : "");
	if (program != NULL)
		program = explain_program_name(program, name, sizeof name);
	policy_bind_program(p, program);
	policy_explain(p, role, (struct sockaddr *)&ss, len, stdout);
	policy_free(p);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *policy_path = NULL, *policy_text = NULL, *check_path, *check_text;
	bool verbose = false, quiet = false, dry_run = false;
	struct policy_diag diag;
	struct policy *p;
	bool preload = true;
	int i;

	/*
	 * A setuid or setgid copy would read files (--stats, --check, -p) and
	 * set up programs with privileges the user does not have.
	 */
	if (getuid() != geteuid() || getgid() != getegid()) {
		fprintf(stderr, "twshim: refusing to run setuid or setgid (real and effective "
		    "ids differ)\n");
		return EXIT_USAGE;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("twshim %s\n", TWSHIM_VERSION);
		return 0;
	}
	/* --check and --explain take POLICY, or -e TEXT in its place. */
	if (strcmp(argv[1], "--check") == 0) {
		int kernel = argc > 2 && strcmp(argv[2], "--cgroup") == 0;
		int inline_text = argc > 2 + kernel && strcmp(argv[2 + kernel], "-e") == 0;
		int failed = 0;

		if (argc < 3 + kernel || (inline_text && argc != 4 + kernel)) {
			fprintf(stderr, "usage: twshim --check [--cgroup] POLICY... | "
			    "--check [--cgroup] -e TEXT\n");
			return EXIT_USAGE;
		}
		if (inline_text)
			return kernel ? cgroup_check(NULL, argv[3 + kernel]) :
			    cmd_check(NULL, argv[3 + kernel]);
		for (i = 2 + kernel; i < argc; i++)
			failed |= kernel ? cgroup_check(argv[i], NULL) : cmd_check(argv[i], NULL);
		return failed;
	}
	if (strcmp(argv[1], "--explain") == 0) {
		enum policy_role r;
		int e = argc > 2 && strcmp(argv[2], "-e") == 0;
		/* "ROLE ADDR [PROGRAM]": no POLICY, when the first word is a role and the second not. */
		int none = !e && argc >= 4 && argc <= 5 && policy_role_parse(argv[2], &r) == 0 &&
		    policy_role_parse(argv[3], &r) < 0;
		int at = none ? 2 : 3 + e;

		if (!none && argc != 5 + e && argc != 6 + e) {
			fprintf(stderr, "usage: twshim --explain [POLICY|-e TEXT] ROLE ADDR[:PORT] "
			    "[PROGRAM]\n");
			return EXIT_USAGE;
		}
		return cmd_explain(!none, none || e ? NULL : argv[2], e ? argv[3] : NULL, argv[at],
		    argv[at + 1], at + 2 < argc ? argv[at + 2] : NULL);
	}
	if (strcmp(argv[1], "--sysctl") == 0) {
		print_sysctl_table(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--stats") == 0)
		return stats_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "--diagnose") == 0)
		return diagnose_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "--systemd") == 0)
		return systemd_main(argc - 2, argv + 2);
	if (strncmp(argv[1], "--cgroup", 8) == 0 && (argv[1][8] == '\0' || argv[1][8] == '='))
		return cgroup_main(argc - 1, argv + 1);

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-p") == 0 || strcmp(a, "-e") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "twshim: %s needs an argument\n", a);
				return EXIT_USAGE;
			}
			if (policy_path != NULL || policy_text != NULL) {
				fprintf(stderr, "twshim: give one policy: -p FILE or -e TEXT\n");
				return EXIT_USAGE;
			}
			if (a[1] == 'p')
				policy_path = argv[++i];
			else
				policy_text = argv[++i];
		} else if (strcmp(a, "-v") == 0) {
			verbose = true;
		} else if (strcmp(a, "-q") == 0) {
			quiet = true;
		} else if (strcmp(a, "--dry-run") == 0) {
			dry_run = true;
		} else if (a[0] == '-') {
			fprintf(stderr, "twshim: unknown option '%s' (twshim --help)\n", a);
			return EXIT_USAGE;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "twshim: no command to run (twshim --help)\n");
		return EXIT_USAGE;
	}
	if (verbose && quiet) {
		fprintf(stderr, "twshim: -v and -q do not go together\n");
		return EXIT_USAGE;
	}

	/*
	 * A bad policy stops here, before the program runs at all: the one
	 * given here, or else the one the environment gives the library.
	 */
	check_path = policy_path;
	check_text = policy_text;
	if (check_path == NULL && check_text == NULL)
		environment_policy(&check_path, &check_text);
	if (check_path != NULL || check_text != NULL) {
		p = load(check_path, check_text, &diag);
		/*
		 * A policy given here that fails is a usage error.  One from
		 * the environment (a unit file, a wrapper script) keeps its own
		 * on_error: with passthrough the program runs unmodified.
		 */
		if (p == NULL && (policy_path != NULL || policy_text != NULL ||
		    diag.on_error == POLICY_ON_ERROR_EXIT)) {
			policy_diag_print(&diag, stderr);
			policy_diag_free(&diag);
			return EXIT_USAGE;
		}
		/*
		 * Said here once: the library is then not preloaded at all, so it
		 * does not read the same policy and say it all again.
		 */
		if (p == NULL) {
			policy_diag_print(&diag, stderr);
			fprintf(stderr, "twshim: running %s without twshim (on_error = passthrough)\n",
			    argv[i]);
			preload = false;
		}
		if (p != NULL && verbose) {
			fprintf(stderr, "twshim: effective policy:\n");
			policy_dump(p, stderr);
		}
		policy_diag_free(&diag);
		policy_free(p);
	} else if (verbose) {
		fprintf(stderr, "twshim: effective policy (built-in default):\n%s",
		    policy_default_text);
	}

	if (prepare_environment(policy_path, policy_text, verbose, quiet, dry_run, preload) < 0)
		return EXIT_USAGE;
	if (!quiet) {
		warn_if_unaffected(argv[i]);
		warn_reuse_limits();
	}
	execvp(argv[i], &argv[i]);
	fprintf(stderr, "twshim: cannot run %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
