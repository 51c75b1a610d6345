/*
 * env.c - the environment the wrapped program starts with.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

/*
 * The library next to the launcher (a build tree), in ../lib beside it (an
 * installed tree), or where `make install` put it.
 */
int
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

/* Whether an entry of LD_PRELOAD is some libtwshim.so, by its name. */
static bool
names_twshim(const char *entry, size_t len)
{
	static const char name[] = "libtwshim.so";
	const size_t nlen = sizeof name - 1;

	return len >= nlen && memcmp(entry + len - nlen, name, nlen) == 0 &&
	    (len == nlen || entry[len - nlen - 1] == '/');
}

/* Whether path is the very file lib is. */
static bool
same_file(const char *path, const char *lib)
{
	struct stat a, b;

	return stat(path, &a) == 0 && stat(lib, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

/*
 * Put the library first in LD_PRELOAD, keeping what was there; only a
 * sanitizer runtime, which must be first of all, stays ahead of it.  An
 * entry that already names a libtwshim.so is kept when it is this very
 * library (loading it twice would recurse); one that is missing or is
 * another build is taken out, and the user told, so the program does not
 * run with a stale library or none.
 */
static int
set_preload(const char *lib, bool quiet)
{
	const char *old = getenv("LD_PRELOAD"), *at;
	char *kept, *value;
	size_t n = 0;
	bool present = false;
	int rc;

	if (old == NULL)
		old = "";
	if ((kept = malloc(strlen(old) + 1)) == NULL)
		return -1;
	for (at = old; *at != '\0'; ) {
		size_t len = strcspn(at, ": ");

		if (len > 0 && names_twshim(at, len)) {
			char entry[PATH_MAX];

			snprintf(entry, sizeof entry, "%.*s", (int)len, at);
			if (!present && same_file(entry, lib)) {
				present = true;
			} else {
				if (!quiet)
					fprintf(stderr, "twshim: LD_PRELOAD named %s, %s; using %s\n",
					    entry, access(entry, F_OK) == 0 ? "another libtwshim.so" :
					    "which does not exist", lib);
				at += len;
				at += strspn(at, ": ");
				continue;
			}
		}
		if (len > 0) {
			if (n > 0)
				kept[n++] = ':';
			memcpy(kept + n, at, len);
			n += len;
		}
		at += len;
		at += strspn(at, ": ");
	}
	kept[n] = '\0';
	if (present) {
		rc = setenv("LD_PRELOAD", kept, 1);
	} else if (n == 0) {
		rc = setenv("LD_PRELOAD", lib, 1);
	} else {
		size_t first = strcspn(kept, ":");
		if (strstr(kept, "libasan") != NULL && strstr(kept, "libasan") < kept + first)
			rc = asprintf(&value, "%.*s:%s%s", (int)first, kept, lib, kept + first);
		else
			rc = asprintf(&value, "%s:%s", lib, kept);
		if (rc >= 0) {
			rc = setenv("LD_PRELOAD", value, 1);
			free(value);
		}
	}
	free(kept);
	return rc < 0 ? -1 : 0;
}

int
prepare_environment(const char *policy_path, const char *policy_text,
    bool verbose, bool quiet, bool dry_run, bool preload)
{
	char lib[PATH_MAX], abs[PATH_MAX];

	if (preload && (find_library(lib, sizeof lib) < 0 || set_preload(lib, quiet) < 0))
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
	/*
	 * The program keeps this process's id across exec: the library in it
	 * says "policy loaded" and warns about the environment, the processes
	 * it starts do not say it all again.
	 */
	snprintf(abs, sizeof abs, "%ld", (long)getpid());
	setenv("TWSHIM_ROOT_PID", abs, 1);
	return 0;
}
