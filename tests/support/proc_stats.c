/*
 * proc_stats.c - /proc readers (see proc_stats.h).
 */
#include "proc_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/PID/stat into buf; returns where the fields after "(comm)" begin
 * (comm may hold spaces), or NULL. */
static const char *read_stat(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p != NULL ? p + 1 : NULL;
}

long proc_cpu_ticks(pid_t pid)
{
	char buf[1024];
	const char *p = read_stat(pid, buf, sizeof(buf));

	if (p == NULL)
		return -1;
	/* State is field 3, utime 14, stime 15. */
	long utime = -1, stime = -1;
	for (int field = 2; field <= 15 && *p != '\0'; field++) {
		while (*p == ' ')
			p++;
		if (field == 14)
			utime = strtol(p, NULL, 10);
		if (field == 15)
			stime = strtol(p, NULL, 10);
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return utime < 0 || stime < 0 ? -1 : utime + stime;
}

int proc_run_state(pid_t pid)
{
	char buf[512];
	const char *p = read_stat(pid, buf, sizeof(buf));

	return p != NULL && p[0] == ' ' && p[1] != '\0' ? p[1] : -1;
}

int64_t proc_cpu_ns(pid_t pid)
{
	long ticks = proc_cpu_ticks(pid);
	long hz = sysconf(_SC_CLK_TCK);

	if (ticks < 0 || hz <= 0)
		return -1;
	return (int64_t)ticks * (1000000000 / hz);
}

long proc_status_number(pid_t pid, const char *field)
{
	char path[64], line[256];
	long value = -1;
	size_t flen = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			value = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

long proc_rss_kb(pid_t pid)
{
	return proc_status_number(pid, "VmRSS");
}

int proc_open_fds(pid_t pid)
{
	char path[64];
	int count = 0;
	DIR *d;
	const struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			count++;
	closedir(d);
	return count;
}
