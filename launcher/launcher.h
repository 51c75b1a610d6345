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

/*
 * env.c: the libtwshim.so this launcher preloads, as an absolute path; -1
 * with a message on stderr when there is none.
 */
int find_library(char *out, size_t size);

/* inspect.c: warn when COMMAND is a program the library cannot reach. */
void warn_if_unaffected(const char *command);

/*
 * inspect.c: when COMMAND (a path, or a name found in PATH) is a script,
 * the base name of the interpreter its "#!" line runs ("python3" for
 * "#!/usr/bin/env python3"), into out, and the rest of that line
 * ("/usr/bin/env python3") into interp unless it is NULL; false when it
 * is not a script.  That name is the one the library matches
 * "program =" against.
 */
bool program_name_for(const char *command, char *out, size_t size, char *interp,
    size_t isize);

/* sysctl.c: the table of sysctls and their per-socket equivalents. */
void print_sysctl_table(FILE *out);

/*
 * sysctl.c: warn when the system leaves the close strategies nothing to
 * do (timestamps off, a port range too small to trust); see reuse.h.
 */
void warn_reuse_limits(void);

/*
 * stats.c: "twshim --stats [--format F] DIR|FILE...", given the arguments after
 * --stats; returns the exit status.
 */
int stats_main(int argc, char **argv);

/* diagnose.c: "twshim --diagnose [--format text|json]", given what follows it. */
int diagnose_main(int argc, char **argv);

/* systemd.c: "twshim --systemd UNIT [-p POLICY] [--write]", given what follows it. */
int systemd_main(int argc, char **argv);

#endif
