/*
 * ports.h - choosing the local port and address of a client socket.
 */
#ifndef TWSHIM_PORTS_H
#define TWSHIM_PORTS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "policy.h"

/*
 * connect() fd to sa, first binding it as local_ports and local_address
 * say (unless the program bound it itself and the keys are not forced).
 * Returns what connect() returns, with its errno.
 */
int tw_ports_connect(int fd, const struct sockaddr *sa, socklen_t len,
    const struct policy_opts *o, bool prog_bound);

/* Ports of ip_local_port_range less ip_local_reserved_ports (read once per process). */
unsigned tw_system_port_count(void);

#endif
