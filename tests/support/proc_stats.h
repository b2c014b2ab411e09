/*
 * proc_stats.h - what Linux's /proc says about a process: CPU time, memory
 * and context switches from its status file, open descriptors.
 *
 * Each returns -1 where /proc (or the field) is not there, so a test can
 * report "not measured" instead of failing on another system.
 */
#ifndef TEST_SUPPORT_PROC_STATS_H
#define TEST_SUPPORT_PROC_STATS_H

#include <stdint.h>
#include <sys/types.h>

/* pid's state letter in /proc/PID/stat: 'R' running (or runnable), 'S'
 * asleep, 'T' stopped...; -1 without /proc. */
int proc_run_state(pid_t pid);

/* utime + stime of pid in clock ticks (/proc/PID/stat). */
long proc_cpu_ticks(pid_t pid);

/* The same in nanoseconds. */
int64_t proc_cpu_ns(pid_t pid);

/* The number in a field of /proc/PID/status, e.g. "VmHWM" (in kB) or
 * "voluntary_ctxt_switches". */
long proc_status_number(pid_t pid, const char *field);

/* VmRSS of pid in kB. */
long proc_rss_kb(pid_t pid);

/* Descriptors pid has open (entries of /proc/PID/fd). */
int proc_open_fds(pid_t pid);

#endif
