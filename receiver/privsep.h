/* privsep.h: privilege separation: the HTTP process (parses every outside byte) is a child that
 * holds no Docker socket, no capabilities and runs under a seccomp filter; the privileged parent
 * keeps the socket and the engine and answers its intents (broker.h, ipc.h). */
#ifndef TRIP_PRIVSEP_H
#define TRIP_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/*
 * DESIGN
 * main() binds the listening socket and forks the HTTP process before it creates anything else
 * (no Docker connection, no thread, no file exists yet to leak into the child). The child closes
 * every descriptor but stdin/stdout/stderr, the listening socket and its end of the socketpair,
 * changes to --privsep-user with no supplementary groups whenever it may (root, or CAP_SETUID and
 * CAP_SETGID in its effective set, e.g. ambient ones from systemd), verifies it (no groups, new
 * ids, cannot become the old ones again), drops every capability, sets PR_SET_NO_NEW_PRIVS and loads the seccomp filter (privsep_sandbox), then waits
 * for IPC_START (the engine runs) and serves. It exits when the channel closes (the parent
 * stopped or died; PR_SET_PDEATHSIG kills it too). The parent treats the child's death as fatal:
 * it stops in order (jobs finish, state saved) and exits 1 so that systemd (Restart=on-failure)
 * or Docker (restart: unless-stopped) starts the pair again; a parser that crashes is never
 * restarted behind the operator's back.
 * Right after the fork the parent (privsep_drop_parent) changes to --user when given (compose
 * starts it as root with only CAP_SETUID/CAP_SETGID), keeping the Docker socket's group as its only
 * supplementary group, then drops every capability it holds (ambient, bounding when it may,
 * permitted/effective/inheritable): the long-lived privileged process holds the socket's access
 * and nothing else.
 */

/* Whom the HTTP process becomes: change is true when started as root or with CAP_SETUID and
 * CAP_SETGID effective. */
struct privsep_user {
    bool change;
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* Resolves cfg->privsep_user (a name, or uid[:gid]) when running as root or with CAP_SETUID and
 * CAP_SETGID; refuses root itself. Without them: change stays false (the child keeps the user, without its privileges). Returns 0,
 * else -1 with the reason in err. */
int privsep_prepare(const struct config *cfg, struct privsep_user *u, char *err, size_t size);

/* Forks the HTTP process on listen_fd (closed in the parent). The child never returns. The parent
 * gets the child's pid and its end of the channel in *ipc_fd; -1 when the fork failed (err). */
pid_t privsep_fork(const struct config *cfg, const struct privsep_user *u, int listen_fd,
                   int *ipc_fd, char *err, size_t size);

/* The parent's own identity after the fork: --user when given (cfg->user; needs root or
 * CAP_SETUID/CAP_SETGID), with docker_gid (the socket's group, (gid_t)-1 for none) as its only
 * supplementary group. */
struct privsep_parent {
    bool change;
    uid_t uid;
    gid_t gid;
    gid_t docker_gid;
};

/* Resolves cfg->user (name or uid[:gid]) and the Docker socket's group (stat of its path) before
 * the fork; refuses uid 0 and a --user the process has no privilege to take. 0 or -1 (err). */
int privsep_parent_prepare(const struct config *cfg, struct privsep_parent *p, char *err,
                           size_t size);

/* In the parent right after the fork: takes p's identity (when p->change) and verifies it, then
 * drops every capability (ambient, bounding when CAP_SETPCAP allows, then the rest). 0 or -1. */
int privsep_drop_parent(const struct privsep_parent *p, char *err, size_t size);

/* Waits up to timeout_ms for the child to exit, then SIGKILLs it; returns its wait status. */
int privsep_reap(pid_t child, int timeout_ms);

/* The sandbox of the HTTP process, in the calling process: closes every descriptor >= 3 but the
 * n_keep of keep, takes u's identity (when u->change), drops capabilities, asks for SIGKILL when
 * the parent dies, sets PR_SET_NO_NEW_PRIVS and loads the seccomp filter. Single-threaded callers
 * only. Returns 0, else -1 with why in err. */
int privsep_sandbox(const struct privsep_user *u, const int *keep, size_t n_keep, char *err,
                    size_t size);

#endif
