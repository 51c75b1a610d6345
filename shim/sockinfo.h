/*
 * sockinfo.h - what the kernel says a socket is.
 *
 * One reader each for the facts the shim asks of a descriptor: its
 * SO_COOKIE, which names the socket itself (a number reused by another
 * socket has another cookie), and its family.
 */
#ifndef TWSHIM_SOCKINFO_H
#define TWSHIM_SOCKINFO_H

#include <stdbool.h>
#include <stdint.h>

/* The socket's cookie; 0 when fd is not a socket (or not open). */
uint64_t tw_socket_cookie(int fd);

/* Whether fd still names the socket whose cookie is `cookie` (nonzero). */
bool tw_same_socket(int fd, uint64_t cookie);

/* SO_DOMAIN of fd; -1 when fd is not a socket. */
int tw_socket_family(int fd);

#endif
