/*
 * privileges.h - give up root once the listening sockets are bound.
 *
 * Port 7 (RFC 862) needs root to bind; serving clients does not.  After
 * binding, echoserv becomes the user (and group) named on the command line
 * for good: the supplementary groups, the real, effective and saved group
 * id, then the real, effective and saved user id, each change checked.
 */
#ifndef ECHOSERV_PRIVILEGES_H
#define ECHOSERV_PRIVILEGES_H

#include <stddef.h>

/*
 * Become user (a name or a number) with group (a name or number; NULL: the
 * user's own group).  Returns 0, or -1 with one line naming the problem in
 * err: a start-up failure, and the server must not go on.
 */
int drop_privileges(const char *user, const char *group, char *err,
		    size_t err_len);

#endif
