/*
 * launcher.h - the parts of the twshim command.
 */
#ifndef TWSHIM_LAUNCHER_H
#define TWSHIM_LAUNCHER_H

#include <stdbool.h>
#include <stdio.h>

/* A twshim usage or policy error. */
#define EXIT_USAGE	125

/* env.c: find libtwshim.so and set LD_PRELOAD and the TWSHIM_ variables. */
int prepare_environment(const char *policy_path, const char *policy_text,
    bool verbose, bool quiet, bool dry_run);

/* inspect.c: warn when COMMAND is a program the library cannot reach. */
void warn_if_unaffected(const char *command);

/* sysctl.c: the table of sysctls and their per-socket equivalents. */
void print_sysctl_table(FILE *out);

/*
 * stats.c: "twshim --stats [--format F] FILE...", given the arguments after
 * --stats; returns the exit status.
 */
int stats_main(int argc, char **argv);

#endif
