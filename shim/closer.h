/*
 * closer.h - close() with the policy's strategy.
 */
#ifndef TWSHIM_CLOSER_H
#define TWSHIM_CLOSER_H

/* The slow path of close(): fd is in the table, or internal (not lazily noted). */
int tw_close(int fd);

/*
 * The sockets the program left open, as this image ends: each gets its
 * strategy's immediate action (for peer-first, which cannot wait now, its
 * fallback).  At exec only the close-on-exec ones that no other process
 * holds: the others live on.  After a failed exec, the resets set then
 * are taken off again.
 */
enum tw_image_end { TW_END_EXIT, TW_END_EXEC, TW_END_EXEC_FAILED };
void tw_close_at_exit(enum tw_image_end end);

#endif
