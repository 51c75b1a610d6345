/*
 * inspect.c - programs LD_PRELOAD cannot reach, found before they run.
 *
 * A static binary has no dynamic loader; a Go program makes its own system
 * calls; a setuid, setgid or file-capability program runs in secure mode,
 * where the loader ignores a preload given by path and the library ignores
 * every TWSHIM_ variable.  All run fine, just without twshim.
 */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "launcher.h"

static bool
resolve(const char *command, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;

	if (strchr(command, '/') != NULL) {
		snprintf(out, size, "%s", command);
		return access(out, X_OK) == 0;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, size, "%s/%s", *dir ? dir : ".", command);
		if (access(out, X_OK) == 0) {
			free(copy);
			return true;
		}
	}
	free(copy);
	return false;
}

static bool
contains(const unsigned char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* What is wrong with the ELF file, or NULL when it can be preloaded. */
static const char *
elf_problem(const unsigned char *m, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)m;
	bool interp = false;

	if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return NULL;		/* a script: its interpreter is what runs */
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		return NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(m + eh->e_phoff + (size_t)i * sizeof *ph);
		if (ph->p_type == PT_INTERP)
			interp = true;
	}
	if (!interp)
		return "is statically linked: LD_PRELOAD cannot reach it";
	if (contains(m, size, ".go.buildinfo") || contains(m, size, "runtime.goexit"))
		return "is a Go program: Go makes its own system calls, which twshim cannot see";
	return NULL;
}

void
warn_if_unaffected(const char *command)
{
	char path[PATH_MAX];
	const char *why = NULL;
	struct stat st;
	void *m;
	int fd;

	if (!resolve(command, path, sizeof path) || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	/*
	 * Secure mode comes when exec changes who the program is: a setuid
	 * file owned by another user, a setgid file of another group, file
	 * capabilities for anyone but root.  Root running its own setuid
	 * file is still root, and twshim reaches it.
	 */
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid())
		why = "is setuid: it runs in secure mode and twshim stays out";
	else if ((st.st_mode & S_ISGID) && st.st_gid != getgid())
		why = "is setgid: it runs in secure mode and twshim stays out";
	else if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
		why = "has file capabilities: it runs in secure mode and twshim stays out";
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		m = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) :
		    MAP_FAILED;
		if (m != MAP_FAILED) {
			why = elf_problem(m, (size_t)st.st_size);
			munmap(m, (size_t)st.st_size);
		}
		close(fd);
	}
	if (why != NULL)
		fprintf(stderr, "twshim: warning: %s %s; it will run unchanged (-q hides this)\n",
		    path, why);
}
