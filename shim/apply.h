/*
 * apply.h - giving a socket its role and the policy's options for it.
 *
 * Each function is called by the hook of the same name around the real
 * call.  All of them keep errno as the program will see it.
 */
#ifndef TWSHIM_APPLY_H
#define TWSHIM_APPLY_H

#include <stdbool.h>
#include <sys/socket.h>

/* socket(): start tracking a new TCP socket. */
void tw_on_socket(int fd, int domain, int type, int protocol);

/* bind(), before the real call: listener options, and note the program's own bind. */
void tw_before_bind(int fd, const struct sockaddr *sa, socklen_t len);

/* listen(): the backlog to pass on. */
int tw_before_listen(int fd, int backlog);

/* connect(): applies client options and does the whole connect. */
int tw_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* accept()/accept4() returned fd on listener lfd. */
void tw_on_accept(int lfd, int fd, int flags);

/* setsockopt(): true when the call must be skipped (a forced key). */
bool tw_filter_setsockopt(int fd, int level, int name);

/*
 * setsockopt(SO_LINGER) succeeded: the program chose how the close ends
 * when it turned lingering on; turning it off is the kernel's default again.
 */
void tw_on_linger(int fd, bool on);

/* shutdown(): remember that the program sent its FIN. */
void tw_on_shutdown(int fd, int how);

/* epoll_ctl() succeeded: remember which epoll instance watches the socket. */
void tw_on_epoll_ctl(int epfd, int op, int fd);

#endif
