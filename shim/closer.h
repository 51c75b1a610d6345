/*
 * closer.h - close() with the policy's strategy.
 */
#ifndef TWSHIM_CLOSER_H
#define TWSHIM_CLOSER_H

/* The slow path of close(): fd is in the table, or internal (not lazily noted). */
int tw_close(int fd);

/* At exit: abort-if-idle for the sockets the program left open. */
void tw_close_at_exit(void);

#endif
