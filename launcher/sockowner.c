/*
 * sockowner.c - which process holds a socket: every /proc/PID/fd/N that
 * reads "socket:[INODE]".  A user sees only the descriptors of their own
 * processes; root sees all of them.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockdiag.h"

static void
read_comm(pid_t pid, char *out, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(out, size, "?");
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	if (n <= 0) {
		snprintf(out, size, "?");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static void
add(struct owner_table *o, uint32_t inode, pid_t pid, const char *comm)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 256;
		struct sock_owner *grown = realloc(o->owners, cap * sizeof *grown);

		if (grown == NULL)
			return;
		o->owners = grown;
		o->cap = cap;
	}
	o->owners[o->n].inode = inode;
	o->owners[o->n].pid = pid;
	snprintf(o->owners[o->n].comm, sizeof o->owners[o->n].comm, "%s", comm);
	o->n++;
}

static void
scan_process(struct owner_table *o, pid_t pid)
{
	char path[64], link[64], comm[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL) {
		o->processes_hidden++;
		return;
	}
	o->processes_seen++;
	comm[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		char fdpath[96 + sizeof e->d_name];
		unsigned long inode;
		ssize_t n;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
		n = readlink(fdpath, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			continue;
		if (comm[0] == '\0')
			read_comm(pid, comm, sizeof comm);
		add(o, (uint32_t)inode, pid, comm);
	}
	closedir(d);
}

static int
by_inode_then_pid(const void *a, const void *b)
{
	const struct sock_owner *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void
owner_table_read(struct owner_table *o)
{
	struct dirent *e;
	DIR *proc;

	memset(o, 0, sizeof *o);
	if ((proc = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end == '\0' && pid > 0)
			scan_process(o, (pid_t)pid);
	}
	closedir(proc);
	if (o->n > 1)
		qsort(o->owners, o->n, sizeof *o->owners, by_inode_then_pid);
}

void
owner_table_free(struct owner_table *o)
{
	free(o->owners);
	memset(o, 0, sizeof *o);
}

const struct sock_owner *
owner_of(const struct owner_table *o, uint32_t inode)
{
	size_t lo = 0, hi = o->n;

	if (inode == 0)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->owners[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < o->n && o->owners[lo].inode == inode ? &o->owners[lo] : NULL;
}
