/*
 * closer.h - close() with the policy's strategy.
 */
#ifndef TWSHIM_CLOSER_H
#define TWSHIM_CLOSER_H

/* The slow path of close(): fd may be tracked or internal. */
int tw_close(int fd);

/* At exit: abort-if-idle for the sockets the program left open. */
void tw_close_at_exit(void);

/* Untrack fd as part of a close the shim does not perform itself. */
void tw_untrack(int fd);

#endif
