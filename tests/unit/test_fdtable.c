/*
 * test_fdtable.c - the table of tracked sockets, without any hooks.
 */
#include <criterion/criterion.h>
#include <sys/socket.h>

#include "fdtable.h"
#include "mem.h"

static void
enter(void)
{
	cr_assert(fdt_enter(), "the table must be enterable from a plain thread");
}

static void
drop_all(void)
{
	int fds[256];
	unsigned n;
	struct tw_desc d;

	enter();
	n = fdt_collect(0, ~0u, fds, 256);
	for (unsigned i = 0; i < n; i++)
		fdt_remove(fds[i], &d);
	fdt_leave();
}

TestSuite(fdtable, .fini = drop_all);

Test(fdtable, add_find_remove)
{
	struct tw_desc out;

	enter();
	cr_assert_not_null(fdt_add(7, AF_INET, false));
	cr_assert(fdt_maybe(7));
	cr_assert_not_null(fdt_find(7));
	cr_assert_eq(fdt_find(7)->refs, 1);
	cr_assert(fdt_remove(7, &out));
	cr_assert_eq(out.refs, 0, "no descriptor holds the socket any more");
	cr_assert_eq(out.family, AF_INET);
	cr_assert_null(fdt_find(7));
	cr_assert_not(fdt_maybe(7));
	cr_assert_not(fdt_remove(7, &out), "a second remove finds nothing");
	fdt_leave();
}

Test(fdtable, dup_shares_the_socket)
{
	struct tw_desc out, *d;

	enter();
	d = fdt_add(10, AF_INET6, false);
	d->role = TW_ROLE_CLIENT;
	cr_assert_eq(fdt_share(10, 11, true), d);
	cr_assert_eq(fdt_find(11), d);
	cr_assert_eq(d->refs, 2);
	cr_assert(fdt_remove(10, &out));
	cr_assert_eq(out.refs, 1, "the dup still holds it");
	cr_assert_eq(fdt_find(11)->role, TW_ROLE_CLIENT);
	cr_assert(fdt_remove(11, &out));
	cr_assert_eq(out.refs, 0);
	fdt_leave();
}

Test(fdtable, add_over_stale_entry_replaces_it)
{
	struct tw_desc *old, *fresh, out;

	enter();
	old = fdt_add(12, AF_INET, false);
	old->role = TW_ROLE_LISTENER;
	old->cookie = 42;
	fresh = fdt_add(12, AF_INET6, false);
	cr_assert_eq(fdt_find(12), fresh);
	cr_assert_eq(fresh->role, TW_ROLE_NEW);
	cr_assert_eq(fresh->cookie, 0, "nothing of the old socket survives");
	cr_assert_eq(fdt_count(), 1);
	cr_assert(fdt_remove(12, &out));
	fdt_leave();
}

Test(fdtable, share_onto_tracked_target_releases_it)
{
	struct tw_desc *a, *b, out;

	enter();
	a = fdt_add(20, AF_INET, false);
	b = fdt_add(21, AF_INET, false);
	b->role = TW_ROLE_ACCEPTED;
	(void)b;
	cr_assert_eq(fdt_share(20, 21, false), a, "dup2 onto a tracked number");
	cr_assert_eq(a->refs, 2);
	cr_assert_eq(fdt_count(), 2);
	cr_assert(fdt_remove(20, &out));
	cr_assert(fdt_remove(21, &out));
	cr_assert_eq(fdt_count(), 0);
	fdt_leave();
}

Test(fdtable, share_from_untracked_clears_target)
{
	enter();
	fdt_add(30, AF_INET, false);
	cr_assert_null(fdt_share(31, 30, false));
	cr_assert_null(fdt_find(30), "the target's old socket is gone");
	cr_assert_not(fdt_maybe(30));
	fdt_leave();
}

Test(fdtable, high_descriptors_use_the_counter)
{
	struct tw_desc out;
	int high = TW_FLAG_SLOTS + 1000;

	cr_assert_not(fdt_maybe(high));
	enter();
	fdt_add(high, AF_INET, false);
	fdt_leave();
	cr_assert(fdt_maybe(high));
	cr_assert(fdt_maybe(high + 5), "above the array any fd may be tracked");
	enter();
	cr_assert_not_null(fdt_find(high));
	cr_assert_null(fdt_find(high + 5));
	cr_assert(fdt_remove(high, &out));
	fdt_leave();
	cr_assert_not(fdt_maybe(high));
	cr_assert_not(fdt_count_hint());
}

Test(fdtable, internal_descriptors)
{
	fdt_set_internal(40, true);
	cr_assert(fdt_is_internal(40));
	cr_assert(fdt_maybe(40));
	cr_assert(fdt_any_hint(), "an internal descriptor is something to step around");
	cr_assert_not(fdt_count_hint(), "but not a socket of the program");
	fdt_set_internal(40, false);
	cr_assert_not(fdt_maybe(40));
	cr_assert_not(fdt_any_hint());
	fdt_set_internal(TW_FLAG_SLOTS + 3, true);
	cr_assert_not(fdt_is_internal(TW_FLAG_SLOTS + 3), "internal fds live below the array end");
}

Test(fdtable, mark_shared_respects_cloexec)
{
	struct tw_desc out;

	enter();
	fdt_add(50, AF_INET, false);
	fdt_add(51, AF_INET, true);
	fdt_mark_shared(true);
	cr_assert(fdt_find(50)->flags & TW_D_SHARED, "inherited by a spawned child");
	cr_assert_not(fdt_find(51)->flags & TW_D_SHARED, "close-on-exec: not inherited");
	fdt_set_cloexec(51, false);
	fdt_mark_shared(true);
	cr_assert(fdt_find(51)->flags & TW_D_SHARED);
	fdt_remove(50, &out);
	fdt_remove(51, &out);
	fdt_leave();
}

Test(fdtable, collect_range)
{
	int fds[8];
	unsigned n;

	enter();
	for (int fd = 60; fd < 70; fd++)
		fdt_add(fd, AF_INET, false);
	n = fdt_collect(63, 66, fds, 8);
	cr_assert_eq(n, 4);
	for (unsigned i = 0; i < n; i++)
		cr_assert(fds[i] >= 63 && fds[i] <= 66);
	cr_assert_eq(fdt_collect(0, ~0u, fds, 8), 8, "bounded by the caller's array");
	fdt_leave();
}

Test(fdtable, many_entries_and_memory)
{
	struct tw_desc out;
	size_t before = tw_mem_mapped();

	enter();
	for (int fd = 1000; fd < 11000; fd++)
		cr_assert_not_null(fdt_add(fd, AF_INET, false));
	cr_assert_eq(fdt_count(), 10000);
	for (int fd = 1000; fd < 11000; fd += 7)
		cr_assert_eq(fdt_find(fd)->family, AF_INET);
	cr_log_info("table: %zu bytes mapped for 10000 sockets",
	    tw_mem_mapped() - before);
	for (int fd = 1000; fd < 11000; fd++)
		cr_assert(fdt_remove(fd, &out));
	cr_assert_eq(fdt_count(), 0);
	fdt_leave();
}

Test(mem, blocks_are_zeroed_and_reused)
{
	unsigned char *a = tw_alloc(72), *b;

	cr_assert_not_null(a);
	for (int i = 0; i < 72; i++)
		cr_assert_eq(a[i], 0);
	a[3] = 9;
	tw_free(a, 72);
	b = tw_alloc(70);
	cr_assert_eq(b, a, "same size class: the freed block comes back");
	cr_assert_eq(b[3], 0, "and it is zeroed again");
	tw_free(b, 70);
	b = tw_alloc(100000);
	cr_assert_not_null(b);
	b[99999] = 1;
	tw_free(b, 100000);
}

Test(fdtable, stale_entry_under_an_own_descriptor_goes)
{
	struct tw_desc *d;

	/* A socket's entry; the socket is closed unseen and the library takes the number. */
	enter();
	d = fdt_add(40, AF_INET, false);
	d->role = TW_ROLE_CLIENT;
	d->cookie = 1234;
	fdt_leave();
	fdt_set_internal(40, true);
	cr_assert(fdt_is_internal(40));
	/* The library lets it go; the program makes a socket there. */
	cr_assert(fdt_clear_internal(40));
	fdt_note_socket(40, AF_INET6, false);
	enter();
	d = fdt_find(40);
	cr_assert_not_null(d);
	cr_assert_eq(d->role, TW_ROLE_NEW, "the new socket is not the old client");
	cr_assert_eq(d->cookie, 0);
	cr_assert_eq(d->family, AF_INET6);
	cr_assert_eq(fdt_entries(), 1, "the stale entry is gone");
	fdt_leave();
}

Test(fdtable, a_late_receive_note_misses_a_new_socket)
{
	unsigned before;

	enter();
	(void)fdt_add(41, AF_INET, false);
	fdt_leave();
	/* A reader takes the note word, then blocks. */
	before = fdt_note_before(41);
	/* Meanwhile the number is closed and given to a new socket, tracked too. */
	enter();
	(void)fdt_remove(41, NULL);
	(void)fdt_add(41, AF_INET, false);
	fdt_leave();
	/* The reader's EOF, from the old socket. */
	fdt_note_received(41, 0, 100, before);
	cr_assert_not(fdt_peer_closed_first(41), "the late EOF is not the new socket's");
	/* A read on the new socket that gets EOF is noted. */
	fdt_note_received(41, 0, 100, fdt_note_before(41));
	cr_assert(fdt_peer_closed_first(41));
}

Test(fdtable, own_shut_rd_eof_is_not_the_peers)
{
	enter();
	(void)fdt_add(42, AF_INET, false);
	fdt_leave();
	fdt_note_own_shut_rd(42);
	fdt_note_received(42, 0, 100, fdt_note_before(42));
	cr_assert_not(fdt_peer_closed_first(42));
}
