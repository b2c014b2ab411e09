/*
 * server_log.c - reading the server's stderr (see server_log.h).
 */
#include "server_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

/* How often log_wait_count looks at the file again. */
#define POLL_INTERVAL 0.005

/* malloc or realloc that gives up: recovery from out of memory in a test
 * tool is pointless, and a clear message is all that is useful. */
static void *grow(void *old, size_t size)
{
	void *p = realloc(old, size);

	if (p == NULL) {
		fprintf(stderr, "test: out of memory\n");
		abort();
	}
	return p;
}

char *read_file_text(const char *path, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf = grow(NULL, cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	while (fd >= 0) {
		if (cap - used < 4096) {
			cap *= 2;
			buf = grow(buf, cap);
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return buf;
}

char *proc_log(const struct proc *p)
{
	return read_file_text(p->err_path, NULL);
}

char *proc_stdout(const struct proc *p)
{
	return read_file_text(p->out_path, NULL);
}

int count_lines(const char *text, const char *needle)
{
	int count = 0;

	for (const char *line = text; *line != '\0';) {
		const char *lf = strchr(line, '\n');
		if (lf == NULL)
			break;
		const char *hit = strstr(line, needle);
		if (hit != NULL && hit < lf)
			count++;
		line = lf + 1;
	}
	return count;
}

int log_count(const struct proc *p, const char *needle)
{
	char *log = proc_log(p);
	int n = count_lines(log, needle);

	free(log);
	return n;
}

long file_count_lines(const char *path, const char *needle)
{
	if (access(path, R_OK) != 0)
		return -1;
	char *text = read_file_text(path, NULL);
	long n = count_lines(text, needle);

	free(text);
	return n;
}

bool log_wait_count(const struct proc *p, const char *needle, int n,
		    double timeout)
{
	double deadline = now_s() + timeout;

	for (;;) {
		if (log_count(p, needle) >= n)
			return true;
		if (now_s() >= deadline)
			return false;
		sleep_s(POLL_INTERVAL);
	}
}

bool log_wait(const struct proc *p, const char *needle, double timeout)
{
	return log_wait_count(p, needle, 1, timeout);
}

bool find_line(const char *text, const char *needle, const char *after,
	       char *line, size_t line_len)
{
	const char *from = text;

	if (after != NULL) {
		const char *a = strstr(text, after);
		if (a == NULL)
			return false;
		const char *lf = strchr(a, '\n');
		if (lf == NULL)
			return false;
		from = lf + 1;
	}
	const char *hit = strstr(from, needle);
	if (hit == NULL)
		return false;
	const char *start = hit;
	while (start > text && start[-1] != '\n')
		start--;
	const char *end = strchr(hit, '\n');
	if (end == NULL)
		return false; /* not complete yet */
	size_t n = (size_t)(end - start);
	if (n >= line_len)
		n = line_len - 1;
	memcpy(line, start, n);
	line[n] = '\0';
	return true;
}

bool parse_listening_line(const char *text, char *addr, size_t addr_len,
			  int *port)
{
	static const char key[] = "echoserv: listening on ";
	char line[256];

	if (!find_line(text, key, NULL, line, sizeof(line)))
		return false;
	const char *a = strstr(line, key) + strlen(key);
	const char *colon = strrchr(a, ':');
	if (colon == NULL)
		return false;
	char *end;
	long n = strtol(colon + 1, &end, 10);
	if (*end != '\0' || n <= 0 || n > 65535)
		return false;
	snprintf(addr, addr_len, "%s", a);
	*port = (int)n;
	return true;
}

long log_dropped_total(const char *text, int *reports)
{
	static const char word[] = " log line";
	long total = 0;
	int found = 0;

	for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
		const char *after = p + strlen(word);
		const char *start = p;
		if (strncmp(after, "s dropped\n", 10) != 0 &&
		    strncmp(after, " dropped\n", 9) != 0)
			continue;
		while (start > text && start[-1] >= '0' && start[-1] <= '9')
			start--;
		if (start == p || start - text < 10 ||
		    strncmp(start - 10, "echoserv: ", 10) != 0)
			continue;
		total += strtol(start, NULL, 10);
		found++;
	}
	if (reports != NULL)
		*reports = found;
	return total;
}

const char *last_lines(const char *text, size_t len, int n)
{
	int lines = 0;

	for (const char *q = text + len; q > text; q--)
		if (q[-1] == '\n' && q != text + len && ++lines == n)
			return q;
	return text;
}
