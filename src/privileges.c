/*
 * privileges.c - setgroups, setgid, setuid, each checked (see
 * privileges.h).
 *
 * setgroups() is not in POSIX, but every system that has root has it (the
 * BSDs, macOS, Linux); glibc declares it only outside strict POSIX mode,
 * hence _DEFAULT_SOURCE for this file alone.
 */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#define _DEFAULT_SOURCE 1

#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* A whole decimal number, for ids given as numbers. */
static int parse_id(const char *text, unsigned long *id)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	*id = strtoul(text, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char *err,
		       size_t err_len)
{
	const struct passwd *pw = getpwnam(user);
	unsigned long id;

	if (pw == NULL && parse_id(user, &id) == 0)
		pw = getpwuid((uid_t)id);
	if (pw == NULL) {
		snprintf(err, err_len, "--user %s: no such user", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int lookup_group(const char *group, gid_t *gid, char *err,
			size_t err_len)
{
	const struct group *gr = getgrnam(group);
	unsigned long id;

	if (gr != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	if (parse_id(group, &id) == 0) {
		*gid = (gid_t)id;
		return 0;
	}
	snprintf(err, err_len, "--group %s: no such group", group);
	return -1;
}

/* Did every id change stick, and is there no way back to root? */
static int check_dropped(uid_t uid, gid_t gid, char *err, size_t err_len)
{
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid) {
		snprintf(err, err_len, "dropping privileges did not take");
		return -1;
	}
	if (uid != 0 && setuid(0) == 0) {
		snprintf(err, err_len,
			 "dropping privileges failed: root is still reachable");
		return -1;
	}
	return 0;
}

int drop_privileges(const char *user, const char *group, char *err,
		    size_t err_len)
{
	uid_t uid;
	gid_t gid;

	if (lookup_user(user, &uid, &gid, err, err_len) != 0 ||
	    (group != NULL && lookup_group(group, &gid, err, err_len) != 0))
		return -1;
	/* Groups first: once we are not root, we may not change them. */
	if (setgroups(1, &gid) != 0) {
		snprintf(err, err_len, "cannot drop supplementary groups: %s",
			 strerror(errno));
		return -1;
	}
	if (setgid(gid) != 0) {
		snprintf(err, err_len, "cannot set group id %lu: %s",
			 (unsigned long)gid, strerror(errno));
		return -1;
	}
	if (setuid(uid) != 0) {
		snprintf(err, err_len, "cannot set user id %lu: %s",
			 (unsigned long)uid, strerror(errno));
		return -1;
	}
	return check_dropped(uid, gid, err, err_len);
}
