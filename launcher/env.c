/*
 * env.c - the environment the wrapped program starts with.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"

/*
 * The library next to the launcher (a build tree), in ../lib beside it (an
 * installed tree), or where `make install` put it.
 */
static int
find_library(char *out, size_t size)
{
	char self[PATH_MAX], dir[PATH_MAX];
	const char *candidates[3];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(dir, sizeof dir, "%s", dirname(self));
	} else {
		dir[0] = '\0';
	}
	candidates[0] = "%s/libtwshim.so";
	candidates[1] = "%s/../lib/libtwshim.so";
	for (int i = 0; i < 2 && dir[0] != '\0'; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, candidates[i], dir);
		if (access(path, R_OK) == 0 && realpath(path, out) != NULL)
			return 0;
	}
	snprintf(out, size, "%s/libtwshim.so", TWSHIM_LIBDIR);
	if (access(out, R_OK) == 0)
		return 0;
	fprintf(stderr, "twshim: cannot find libtwshim.so next to %s or in %s\n",
	    dir[0] ? dir : "the launcher", TWSHIM_LIBDIR);
	return -1;
}

/* Whether a list of libraries (':' or ' ' between them) names libtwshim.so. */
static bool
lists_twshim(const char *list)
{
	static const char name[] = "libtwshim.so";
	const size_t nlen = sizeof name - 1;

	while (*list != '\0') {
		size_t len = strcspn(list, ": ");

		if (len >= nlen && memcmp(list + len - nlen, name, nlen) == 0 &&
		    (len == nlen || list[len - nlen - 1] == '/'))
			return true;
		list += len;
		list += strspn(list, ": ");
	}
	return false;
}

/*
 * Put the library first in LD_PRELOAD, keeping what was there; only a
 * sanitizer runtime, which must be first of all, stays ahead of it.
 */
static int
set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *value;
	int rc;

	if (old == NULL || *old == '\0') {
		rc = setenv("LD_PRELOAD", lib, 1);
	} else if (lists_twshim(old)) {
		rc = 0;		/* already there: loading it twice would recurse */
	} else {
		size_t first = strcspn(old, ": ");
		if (strstr(old, "libasan") != NULL && strstr(old, "libasan") < old + first) {
			if (asprintf(&value, "%.*s:%s%s", (int)first, old, lib, old + first) < 0)
				return -1;
		} else if (asprintf(&value, "%s:%s", lib, old) < 0) {
			return -1;
		}
		rc = setenv("LD_PRELOAD", value, 1);
		free(value);
	}
	return rc;
}

int
prepare_environment(const char *policy_path, const char *policy_text,
    bool verbose, bool quiet, bool dry_run)
{
	char lib[PATH_MAX], abs[PATH_MAX];

	if (find_library(lib, sizeof lib) < 0 || set_preload(lib) < 0)
		return -1;
	if (policy_path != NULL) {
		/* The program may chdir before the library reads it. */
		if (realpath(policy_path, abs) == NULL) {
			fprintf(stderr, "twshim: %s: %s\n", policy_path, strerror(errno));
			return -1;
		}
		setenv("TWSHIM_POLICY", abs, 1);
		unsetenv("TWSHIM_POLICY_TEXT");
	} else if (policy_text != NULL) {
		setenv("TWSHIM_POLICY_TEXT", policy_text, 1);
		unsetenv("TWSHIM_POLICY");
	}
	/* -v asks for info at least: a debug level already asked for stays. */
	if (verbose && (getenv("TWSHIM_LOG") == NULL ||
	    strcmp(getenv("TWSHIM_LOG"), "debug") != 0))
		setenv("TWSHIM_LOG", "info", 1);
	else if (quiet)
		setenv("TWSHIM_LOG", "error", 1);
	if (dry_run)
		setenv("TWSHIM_DRY_RUN", "1", 1);
	return 0;
}
