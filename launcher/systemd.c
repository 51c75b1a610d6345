/*
 * systemd.c - "twshim --systemd UNIT [-p POLICY] [--write]": the drop-in
 * that runs a service under twshim without touching its ExecStart.  It
 * names the library this launcher preloads (wherever it was installed),
 * keeps the stats in a runtime directory the unit owns and that survives
 * a stop, and makes a bad policy or a missing library stop the service
 * from starting rather than let it run without twshim, silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"
#include "policy.h"

#define UNIT_DIR "/etc/systemd/system"

/* Letters systemd allows in a unit name, less the backslash of its escapes. */
static bool
unit_name_ok(const char *unit)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789:-_.@";

	return *unit != '\0' && *unit != '.' && strlen(unit) < 200 &&
	    strspn(unit, allowed) == strlen(unit);
}

/*
 * A path as an Environment= or Exec line can hold it: systemd expands
 * '%' specifiers, so each is doubled; a path with a quote, a backslash,
 * white space or a control character is refused rather than escaped.
 */
static bool
unit_path(const char *path, char *out, size_t size)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
		if (*p <= ' ' || *p == '"' || *p == '\'' || *p == '\\' || *p == 0x7f ||
		    n + 3 >= size)
			return false;
		if (*p == '%')
			out[n++] = '%';
		out[n++] = (char)*p;
	}
	out[n] = '\0';
	return true;
}

static int
write_dropin(const char *dir, const char *file, const char *text)
{
	char tmp[PATH_MAX + 32];
	size_t len = strlen(text);
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "twshim: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	/* Written whole beside it, then renamed: systemd never reads half a file. */
	snprintf(tmp, sizeof tmp, "%s/.twshim.conf.%d", dir, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "twshim: cannot write %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 || close(fd) < 0) {
		fprintf(stderr, "twshim: cannot write %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, file) < 0) {
		fprintf(stderr, "twshim: cannot write %s: %s\n", file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
check_policy(const char *path)
{
	struct policy_diag diag;
	struct policy *p = policy_parse_file(path, &diag);

	if (p == NULL) {
		policy_diag_print(&diag, stderr);
		policy_diag_free(&diag);
		return -1;
	}
	policy_diag_free(&diag);
	policy_free(p);
	return 0;
}

/*
 * What the unit already sets for LD_PRELOAD, as systemd would give it:
 * from Environment= (into env, to be kept after our library), or from an
 * EnvironmentFile=, which systemd applies after every Environment= line
 * and so would override the drop-in's (said on stderr: the file must
 * name the library itself).  Read with "systemctl show"; where systemd
 * is not there to ask, nothing is known and nothing is said.
 */
static void
unit_preload(const char *unit, char *env, size_t size)
{
	char cmd[512], line[4096], *p;
	FILE *f;

	*env = '\0';
	/* The unit's name is of systemd's own letters (unit_name_ok): safe in a command. */
	snprintf(cmd, sizeof cmd, "systemctl show -p Environment -p EnvironmentFiles -- %s "
	    "2>/dev/null", unit);
	if ((f = popen(cmd, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "Environment=", 12) == 0) {
			for (p = strtok(line + 12, " "); p != NULL; p = strtok(NULL, " "))
				if (strncmp(p, "LD_PRELOAD=", 11) == 0 && p[11] != '\0')
					snprintf(env, size, "%s", p + 11);
		} else if (strncmp(line, "EnvironmentFiles=", 17) == 0) {
			char file_line[1024];
			FILE *ef;

			line[17 + strcspn(line + 17, " ")] = '\0';
			if ((ef = fopen(line + 17, "re")) == NULL)
				continue;
			while (fgets(file_line, sizeof file_line, ef) != NULL)
				if (strncmp(file_line + strspn(file_line, " \t"), "LD_PRELOAD=", 11) == 0)
					fprintf(stderr, "twshim: %s's EnvironmentFile %s sets LD_PRELOAD, "
					    "which overrides the drop-in's: add the library there\n",
					    unit, line + 17);
			fclose(ef);
		}
	}
	pclose(f);
}

static int
usage_error(void)
{
	fprintf(stderr, "usage: twshim --systemd UNIT [-p POLICY] [--write]\n");
	return EXIT_USAGE;
}

int
systemd_main(int argc, char **argv)
{
	const char *unit_arg = NULL, *policy_arg = NULL;
	char unit[256], name[256], lib[PATH_MAX], self[PATH_MAX], policy[PATH_MAX];
	char q_lib[PATH_MAX * 2], q_self[PATH_MAX * 2], q_policy[PATH_MAX * 2];
	char dir[PATH_MAX], file[PATH_MAX + 16], their_preload[PATH_MAX], q_theirs[PATH_MAX * 2];
	bool write_it = false;
	char *text = NULL;
	size_t text_len = 0;
	FILE *out;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--write") == 0)
			write_it = true;
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc && policy_arg == NULL)
			policy_arg = argv[++i];
		else if (argv[i][0] != '-' && unit_arg == NULL)
			unit_arg = argv[i];
		else
			return usage_error();
	}
	if (unit_arg == NULL)
		return usage_error();
	if (!unit_name_ok(unit_arg)) {
		fprintf(stderr, "twshim: '%s' is not a unit name this can write a drop-in for\n",
		    unit_arg);
		return EXIT_USAGE;
	}
	/* "nginx" means nginx.service, as systemctl takes it. */
	snprintf(unit, sizeof unit, "%s%s", unit_arg, strchr(unit_arg, '.') ? "" : ".service");
	snprintf(name, sizeof name, "%.*s", (int)(strrchr(unit, '.') - unit), unit);

	if (find_library(lib, sizeof lib) < 0)
		return EXIT_USAGE;
	if (realpath("/proc/self/exe", self) == NULL) {
		fprintf(stderr, "twshim: cannot tell where this launcher is: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	if (policy_arg != NULL) {
		if (realpath(policy_arg, policy) == NULL) {
			fprintf(stderr, "twshim: %s: %s\n", policy_arg, strerror(errno));
			return EXIT_USAGE;
		}
		if (check_policy(policy) < 0)
			return EXIT_USAGE;
	}
	if (!unit_path(lib, q_lib, sizeof q_lib) || !unit_path(self, q_self, sizeof q_self) ||
	    (policy_arg != NULL && !unit_path(policy, q_policy, sizeof q_policy))) {
		fprintf(stderr, "twshim: a path here has white space, a quote or a backslash, "
		    "which a unit file cannot hold as is: %s, %s%s%s\n", lib, self,
		    policy_arg ? ", " : "", policy_arg ? policy : "");
		return EXIT_USAGE;
	}
	unit_preload(unit, their_preload, sizeof their_preload);
	if (*their_preload != '\0' && !unit_path(their_preload, q_theirs, sizeof q_theirs))
		*their_preload = '\0';
	snprintf(dir, sizeof dir, "%s/%s.d", UNIT_DIR, unit);
	snprintf(file, sizeof file, "%s/twshim.conf", dir);

	if ((out = open_memstream(&text, &text_len)) == NULL)
		return 1;
	fprintf(out, "# %s, written by twshim --systemd %s\n", file, unit);
	fprintf(out, "# Runs %s under twshim without changing its ExecStart.\n", unit);
	fprintf(out, "[Service]\n");
	if (*their_preload != '\0') {
		/* A later Environment= replaces the unit's own: keep its library too. */
		fprintf(out, "# The unit's own LD_PRELOAD, kept after the library of twshim.\n");
		fprintf(out, "Environment=LD_PRELOAD=\"%s %s\"\n", q_lib, q_theirs);
	} else {
		fprintf(out, "Environment=LD_PRELOAD=%s\n", q_lib);
	}
	if (policy_arg != NULL)
		fprintf(out, "Environment=TWSHIM_POLICY=%s\n", q_policy);
	else
		fprintf(out, "# No TWSHIM_POLICY: the built-in default policy.\n");
	fprintf(out, "Environment=TWSHIM_LOG=warn\n");
	fprintf(out, "# Live counters, one file per program, in a directory systemd makes for\n"
	    "# the service's user and keeps after a stop: twshim --stats /run/twshim-%s\n", name);
	fprintf(out, "Environment=TWSHIM_STATS=/run/twshim-%s\n", name);
	fprintf(out, "RuntimeDirectory=twshim-%s\n", name);
	fprintf(out, "RuntimeDirectoryPreserve=yes\n");
	fprintf(out, "# A missing library%s stops the service from starting, rather than\n"
	    "# letting it run without twshim (these checks run without the library).\n",
	    policy_arg ? " or a bad policy" : "");
	fprintf(out, "ExecStartPre=/usr/bin/env -u LD_PRELOAD /usr/bin/test -r %s\n", q_lib);
	if (policy_arg != NULL)
		fprintf(out, "ExecStartPre=/usr/bin/env -u LD_PRELOAD %s --check %s\n", q_self,
		    q_policy);
	if (fclose(out) != 0) {
		free(text);
		return 1;
	}

	if (!write_it) {
		fputs(text, stdout);
		fprintf(stderr, "twshim: to install it: twshim --systemd %s%s%s --write\n"
		    "twshim: then: systemctl daemon-reload && systemctl restart %s\n", unit,
		    policy_arg ? " -p " : "", policy_arg ? policy : "", unit);
		free(text);
		return 0;
	}
	rc = write_dropin(dir, file, text);
	free(text);
	if (rc < 0)
		return 1;
	printf("wrote %s\nthen run:\n  systemctl daemon-reload\n  systemctl restart %s\n", file,
	    unit);
	return 0;
}
