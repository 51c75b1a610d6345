/*
 * init.c - start-up and exit: reading the environment, loading the
 * policy, and the counters written at exit.  fork, exec and the other
 * ways of leaving are process.c's.
 *
 * Start-up has two phases.  Phase 1, finding the real functions, happens
 * lazily in whichever hook runs first, even before any constructor (see
 * real.c).  Phase 2, below, reads the environment and the policy; until it
 * has run, hooks track sockets but change nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "process.h"
#include "real.h"
#include "reaper.h"
#include "shim.h"
#include "stats.h"

/*
 * Copies, made at start, of what the library keeps from argv and the
 * environment: redis, nginx and postgres write their process titles over
 * that memory, and a pointer into it would then read their title (or
 * nothing).  The program name is cut to a file name's length, with any
 * control character made '?' (it starts every log line and a line of the
 * stats file).
 */
static char program_name[256];

static void
copy_program_name(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof program_name - 1; i++)
		program_name[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	program_name[i] = '\0';
	tw_state.program = program_name;
}

static struct policy *
load_policy(struct policy_diag *diag)
{
	const char *text = getenv("TWSHIM_POLICY_TEXT");
	const char *path = getenv("TWSHIM_POLICY");

	if (text != NULL && *text != '\0')
		return policy_parse_string(text, strlen(text), "<inline>", true, diag);
	if (path != NULL && *path != '\0')
		return policy_parse_file(path, diag);
	return policy_parse_string(policy_default_text,
	    strlen(policy_default_text), "<default>", false, diag);
}

static void
report_bad_policy(struct policy_diag *diag)
{
	const struct policy_error *first = diag->nerrors > 0 ? &diag->errors[0] : NULL;
	bool exiting = diag->on_error == POLICY_ON_ERROR_EXIT;
	bool inline_text = diag->file[0] == '<';
	const char *outcome = exiting ? "exiting with status 125" :
	    "running the program without twshim";

	if (first == NULL)
		tw_log(TW_LOG_ERROR, "policy %s rejected; %s", diag->file, outcome);
	else if (first->line == 0)
		tw_log(TW_LOG_ERROR, "policy %s: %s; %s", diag->file, first->msg, outcome);
	else
		tw_log(TW_LOG_ERROR, "policy %s:%u:%u: %s (%u error%s in all); %s%s%s%s",
		    diag->file, first->line, first->col, first->msg, diag->nerrors,
		    diag->nerrors == 1 ? "" : "s", outcome,
		    inline_text ? "" : " (twshim --check ", inline_text ? "" : diag->file,
		    inline_text ? "" : " lists every error)");
}

__attribute__((constructor)) static void
twshim_init(void)
{
	struct policy_diag diag;
	struct policy *p;
	bool counting;
	const char *level;
	int saved = errno;

	real_resolve_all();
	copy_program_name(policy_program_name(program_invocation_name));
	__atomic_store_n(&tw_state.pid, (pid_t)syscall(SYS_getpid), __ATOMIC_RELAXED);

	/* Secure execution: the environment is the attacker's; touch nothing. */
	if (getauxval(AT_SECURE) != 0) {
		__atomic_store_n(&tw_state.mode, TW_MODE_OFF, __ATOMIC_RELEASE);
		errno = saved;
		return;
	}

	level = getenv("TWSHIM_LOG");
	tw_state.dry_run = getenv("TWSHIM_DRY_RUN") != NULL &&
	    strcmp(getenv("TWSHIM_DRY_RUN"), "1") == 0;
	/* A dry run is for reading what would be done: say it unless told otherwise. */
	if (tw_state.dry_run && (level == NULL || *level == '\0'))
		level = "info";
	tw_log_open(level, getenv("TWSHIM_LOG_FILE"));

	p = load_policy(&diag);
	if (p == NULL) {
		report_bad_policy(&diag);
		if (diag.on_error == POLICY_ON_ERROR_EXIT)
			REAL(_exit)(125);
		policy_diag_free(&diag);
		__atomic_store_n(&tw_state.mode, TW_MODE_OFF, __ATOMIC_RELEASE);
		errno = saved;
		return;
	}
	policy_diag_free(&diag);
	if ((level == NULL || *level == '\0') && policy_log_level(p) != POLICY_LOG_UNSET)
		tw_log_level = policy_log_level(p);
	policy_bind_program(p, tw_state.program);
	tw_state.policy = p;
	tw_state.roles = policy_roles(p);
	tw_state.waiting = (policy_close_kinds(p) &
	    ((1u << CLOSE_GRACEFUL) | (1u << CLOSE_PEER_FIRST))) != 0;
	tw_state.watch_epoll = tw_state.waiting || (policy_keys(p) &
	    (POLICY_KEY_BIT(KEY_LOCAL_PORTS) | POLICY_KEY_BIT(KEY_LOCAL_ADDRESS))) != 0;
	/* Set once, before any socket has a strategy: a fallback counts too. */
	__atomic_store_n(&tw_state.watch_recv, (policy_close_kinds(p) &
	    ((1u << CLOSE_FIN_THEN_RESET) | (1u << CLOSE_FIN_THEN_RESET_ALWAYS))) != 0,
	    __ATOMIC_RELAXED);
	tw_reaper_init(tw_state.waiting);
	tw_process_init();
	counting = tw_stats_init();
	tw_log(tw_log_announces() ? TW_LOG_INFO : TW_LOG_DEBUG, "policy %s loaded%s",
	    policy_file_name(p),
	    tw_state.dry_run ? " (dry run: nothing will be changed)" : "");
	/* Nothing to do for any socket: become a pure pass-through. */
	__atomic_store_n(&tw_state.mode,
	    tw_state.roles != 0 || counting ? TW_MODE_ACTIVE : TW_MODE_OFF,
	    __ATOMIC_RELEASE);
	errno = saved;
}

__attribute__((destructor)) static void
twshim_fini(void)
{
	int saved = errno;

	tw_leave();
	errno = saved;
}
