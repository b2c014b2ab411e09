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
#include <stdbool.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "numbers.h"

/* Is text all decimal digits (an id given as a number)? */
static bool is_number(const char *text)
{
	if (*text == '\0')
		return false;
	for (; *text != '\0'; text++)
		if (*text < '0' || *text > '9')
			return false;
	return true;
}

/*
 * The id a number names, if uid_t and gid_t can hold it: the largest
 * value of the type is (id_t)-1, which setuid() and setgid() take to mean
 * "no change", so it is refused too.  Without this check 4294967296 would
 * become 0, root.  0, or -1 with the reason in err.
 */
static int parse_id(const char *option, const char *text, unsigned long *id,
		    unsigned long max, char *err, size_t err_len)
{
	uintmax_t v;

	if (!parse_decimal(text, 0, max - 1, &v)) {
		snprintf(err, err_len,
			 "%s %s: not an id this system can hold (0 .. %lu)",
			 option, text, max - 1);
		return -1;
	}
	*id = (unsigned long)v;
	return 0;
}

static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char *err,
		       size_t err_len)
{
	const struct passwd *pw = getpwnam(user);
	unsigned long id;

	if (pw == NULL && is_number(user)) {
		if (parse_id("--user", user, &id, (unsigned long)(uid_t)-1, err,
			     err_len) != 0)
			return -1;
		pw = getpwuid((uid_t)id);
	}
	if (pw == NULL) {
		snprintf(err, err_len, "--user %s: no such user", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		/* Becoming root is not dropping anything; leave --user out
		 * to stay root. */
		snprintf(err, err_len,
			 "--user %s: that is root (uid 0), not a "
			 "user to drop privileges to",
			 user);
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
	if (!is_number(group)) {
		snprintf(err, err_len, "--group %s: no such group", group);
		return -1;
	}
	if (parse_id("--group", group, &id, (unsigned long)(gid_t)-1, err,
		     err_len) != 0)
		return -1;
	*gid = (gid_t)id;
	return 0;
}

/* Did every id change stick (the supplementary groups too), and is there
 * no way back to root?  uid is never 0 here (lookup_user refuses it). */
static int check_dropped(uid_t uid, gid_t gid, char *err, size_t err_len)
{
	gid_t groups[2];
	int ngroups = getgroups(2, groups);

	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid || ngroups < 0 || ngroups > 1 ||
	    (ngroups == 1 && groups[0] != gid)) {
		snprintf(err, err_len, "dropping privileges did not take");
		return -1;
	}
	if (setuid(0) == 0) {
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
