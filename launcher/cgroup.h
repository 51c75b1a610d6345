/*
 * cgroup.h - "twshim --cgroup": the policy through the kernel, for the
 * programs of one cgroup (Go, static and musl programs among them, which
 * LD_PRELOAD cannot reach).  Only these files link libbpf.
 */
#ifndef TWSHIM_CGROUP_H
#define TWSHIM_CGROUP_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cgroup_abi.h"
#include "policy.h"

/*
 * cgroup_policy.c: print to `out` one "FILE:LINE: ..." line for each part
 * of p the kernel backend cannot honour; returns how many.
 */
unsigned cgroup_policy_check(const struct policy *p, FILE *out);

/* cgroup_policy.c: the sections as the BPF program reads them; returns how many. */
unsigned cgroup_policy_compile(const struct policy *p, struct twb_section *out, unsigned max);

/*
 * cgroup.c: "twshim --cgroup[=PATH] [-p POLICY | -e TEXT] [-v|-q] [-- COMMAND...]",
 * given argv from "--cgroup[=PATH]" on.  With a command: a fresh cgroup for
 * it, removed after it exits; returns its status.  With a path: the backend
 * attached there until SIGTERM or SIGINT.
 */
int cgroup_main(int argc, char **argv);

/* cgroup.c: "twshim --check --cgroup POLICY | -e TEXT"; returns the exit status. */
int cgroup_check(const char *path, const char *text);

/* agent.c: the user-space half, which destroys the TIME_WAITs the program reports. */
struct agent;
struct agent_counts {
	uint64_t destroyed;	/* SOCK_DESTROY accepted */
	uint64_t gone;		/* already closed when asked (ENOENT) */
	uint64_t failed;	/* any other refusal */
	uint64_t sweeps;	/* dumps made to find lost events */
	uint64_t swept;		/* of the destroyed, found by a sweep */
	uint64_t other_netns;	/* destroyed in a namespace the program moved to */
};

struct agent *agent_new(int ringbuf_fd, int lost_fd, const volatile uint64_t *counters,
    const char *cgroup_dir);
/* Handle what is due; returns the milliseconds until the next deadline, -1 if none. */
int agent_poll_timeout(struct agent *a);
/* Drain the ring buffer, destroy what is due. */
int agent_work(struct agent *a);
/* Wait until everything queued is due, and destroy it: before detaching. */
void agent_flush(struct agent *a);
int agent_epoll_fd(struct agent *a);
void agent_counts(const struct agent *a, struct agent_counts *out);
void agent_free(struct agent *a);

#endif
