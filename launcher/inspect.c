/*
 * inspect.c - programs LD_PRELOAD cannot reach, found before they run.
 *
 * A static binary has no dynamic loader; a program of another class or
 * machine (32-bit, arm64) cannot load this library; a Go program makes its
 * own system calls; a setuid, setgid or file-capability program runs in secure mode,
 * where the loader ignores a preload given by path and the library ignores
 * every TWSHIM_ variable.  All run fine, just without twshim.
 */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "launcher.h"
#include "policy.h"
#include "safefile.h"

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

/* The class and machine of this launcher, which are the library's. */
static bool
own_kind(unsigned char *cls, uint16_t *machine)
{
	Elf64_Ehdr eh;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh;

	if (fd >= 0)
		close(fd);
	if (ok) {
		*cls = eh.e_ident[EI_CLASS];
		*machine = eh.e_machine;
	}
	return ok;
}

static const char *
machine_name(uint16_t m)
{
	switch (m) {
	case EM_386: return "i386";
	case EM_X86_64: return "x86-64";
	case EM_ARM: return "32-bit ARM";
	case EM_AARCH64: return "arm64";
	case EM_RISCV: return "RISC-V";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390";
	default: return "another machine";
	}
}

/* Whether [off, off + len) lies inside a file of size bytes. */
static bool
inside(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* A note named "Go" of type 4: the build ID the Go linker writes. */
static bool
has_go_note(const unsigned char *m, uint64_t off, uint64_t len)
{
	uint64_t at = 0;

	while (at + sizeof(Elf64_Nhdr) <= len) {
		const Elf64_Nhdr *nh = (const void *)(m + off + at);
		uint64_t name = at + sizeof *nh;
		uint64_t desc = name + (((uint64_t)nh->n_namesz + 3) & ~3ull);

		if (nh->n_namesz == 3 && nh->n_type == 4 && name + 3 <= len &&
		    memcmp(m + off + name, "Go", 3) == 0)
			return true;
		at = desc + (((uint64_t)nh->n_descsz + 3) & ~3ull);
	}
	return false;
}

/* A section named .go.buildinfo, where the Go linker keeps the build information. */
static bool
has_go_section(const unsigned char *m, size_t size, const Elf64_Ehdr *eh)
{
	const Elf64_Shdr *sh, *strtab;

	if (eh->e_shoff == 0 || eh->e_shentsize != sizeof *sh || eh->e_shstrndx >= eh->e_shnum ||
	    !inside(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof *sh, size))
		return false;
	sh = (const void *)(m + eh->e_shoff);
	strtab = &sh[eh->e_shstrndx];
	if (!inside(strtab->sh_offset, strtab->sh_size, size))
		return false;
	for (int i = 0; i < eh->e_shnum; i++) {
		static const char name[] = ".go.buildinfo";

		if (sh[i].sh_name < strtab->sh_size &&
		    strtab->sh_size - sh[i].sh_name >= sizeof name &&
		    memcmp(m + strtab->sh_offset + sh[i].sh_name, name, sizeof name) == 0)
			return true;
	}
	return false;
}

/* What is wrong with the ELF file, or NULL when it can be preloaded. */
static const char *
elf_problem(const unsigned char *m, size_t size, char *why, size_t whysize)
{
	const Elf64_Ehdr *eh = (const void *)m;
	const Elf32_Ehdr *eh32 = (const void *)m;
	unsigned char own_class;
	uint16_t own_machine, machine;
	bool interp = false, go = false;

	if (size < EI_NIDENT || memcmp(m, ELFMAG, SELFMAG) != 0)
		return NULL;		/* a script: its interpreter is what runs */
	if (!own_kind(&own_class, &own_machine))
		return NULL;
	if (m[EI_CLASS] == ELFCLASS32 && size >= sizeof *eh32)
		machine = eh32->e_machine;
	else if (m[EI_CLASS] == ELFCLASS64 && size >= sizeof *eh)
		machine = eh->e_machine;
	else
		return "is not an ELF program twshim can read";
	if (m[EI_CLASS] != own_class || machine != own_machine) {
		snprintf(why, whysize, "is a %d-bit %s program: the loader will not load the "
		    "%d-bit %s libtwshim.so into it", m[EI_CLASS] == ELFCLASS32 ? 32 : 64,
		    machine_name(machine), own_class == ELFCLASS32 ? 32 : 64,
		    machine_name(own_machine));
		return why;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !inside(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(m + eh->e_phoff + (size_t)i * sizeof *ph);

		if (ph->p_type == PT_INTERP)
			interp = true;
		else if (ph->p_type == PT_NOTE && inside(ph->p_offset, ph->p_filesz, size))
			go |= has_go_note(m, ph->p_offset, ph->p_filesz);
	}
	if (!interp)
		return "is statically linked: LD_PRELOAD cannot reach it";
	if (go || has_go_section(m, size, eh))
		return "is a Go program: Go makes its own system calls, which twshim cannot see";
	return NULL;
}

bool
program_name_for(const char *command, char *out, size_t size, char *interp, size_t isize)
{
	char path[PATH_MAX], line[256], *word, *save = NULL;
	ssize_t n;
	int fd;

	/* A name of a file here ("myclient.py") first, then one found in PATH. */
	if (access(command, F_OK) == 0)
		snprintf(path, sizeof path, "%s", command);
	else if (!resolve(command, path, sizeof path))
		return false;
	if ((fd = safe_open_input(path)) < 0)
		return false;
	n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return false;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (interp != NULL)
		snprintf(interp, isize, "%s", line + 2 + strspn(line + 2, " \t"));
	/*
	 * The kernel runs the interpreter with the path the line gives as its
	 * argv[0]: that path names the program.
	 */
	if ((word = strtok_r(line + 2, " \t", &save)) == NULL)
		return false;
	/* "#!/usr/bin/env [-S] [NAME=VALUE] python3": env runs python3, as python3. */
	if (strcmp(policy_program_name(word), "env") == 0) {
		while ((word = strtok_r(NULL, " \t", &save)) != NULL &&
		    (word[0] == '-' || strchr(word, '=') != NULL))
			;
		if (word == NULL)
			return false;
	}
	snprintf(out, size, "%s", policy_program_name(word));
	return true;
}

void
warn_if_unaffected(const char *command)
{
	char path[PATH_MAX], text[256];
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
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		m = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) :
		    MAP_FAILED;
		if (m != MAP_FAILED) {
			why = elf_problem(m, (size_t)st.st_size, text, sizeof text);
			munmap(m, (size_t)st.st_size);
		}
		close(fd);
	}
	if (why != NULL)
		fprintf(stderr, "twshim: warning: %s %s; it will run unchanged%s (-q hides this)\n",
		    path, why, strstr(why, "static") != NULL || strstr(why, "Go ") != NULL ?
		    " (twshim --cgroup reaches it, through the kernel)" : "");
}
