/*
 * launcher.h - the parts of the twshim command.
 */
#ifndef TWSHIM_LAUNCHER_H
#define TWSHIM_LAUNCHER_H

#include <stdbool.h>
#include <stdio.h>

/* A twshim usage or policy error. */
#define EXIT_USAGE	125

/*
 * env.c: find libtwshim.so and set LD_PRELOAD (unless !preload) and the
 * TWSHIM_ variables.
 */
int prepare_environment(const char *policy_path, const char *policy_text,
    bool verbose, bool quiet, bool dry_run, bool preload);

/* inspect.c: warn when COMMAND is a program the library cannot reach. */
void warn_if_unaffected(const char *command);

/*
 * inspect.c: when COMMAND (a path, or a name found in PATH) is a script,
 * the base name of the interpreter its "#!" line runs ("python3" for
 * "#!/usr/bin/env python3"), into out; false when it is not a script.
 * That is the program name the library matches "program =" against.
 */
bool program_name_for(const char *command, char *out, size_t size);

/* sysctl.c: the table of sysctls and their per-socket equivalents. */
void print_sysctl_table(FILE *out);

/*
 * stats.c: "twshim --stats [--format F] DIR|FILE...", given the arguments after
 * --stats; returns the exit status.
 */
int stats_main(int argc, char **argv);

#endif
