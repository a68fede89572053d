/* privsep.c: the HTTP process: fork, sandbox (identity, capabilities, no_new_privs, seccomp), its
 * main loop; reaping it in the parent. See privsep.h's DESIGN. */
#define _GNU_SOURCE 1 /* setresuid, setresgid */
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "http.h"
#include "ipc.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The effective capability set (low 64 bits), 0 when capget fails. */
static uint64_t effective_caps(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0)
        return 0;
    return (uint64_t)data[0].effective | (uint64_t)data[1].effective << 32;
}

/* Whether this thread could take uid (gid) id again: the raw calls, expected to fail. glibc's
 * setuid()/setgid() ask every thread to follow and abort the process when the threads disagree
 * (a sanitizer's runtime thread is one); a raw call that succeeded changes this thread only, and
 * the caller then stops anyway. */
static bool regains_uid(uid_t id)
{
    return syscall(SYS_setuid, id) == 0;
}

static bool regains_gid(gid_t id)
{
    return syscall(SYS_setgid, id) == 0;
}

/* Whether this process may take any uid and gid: root, or CAP_SETUID and CAP_SETGID effective. */
static bool may_change_ids(void)
{
    const uint64_t need = (1ull << CAP_SETUID) | (1ull << CAP_SETGID);
    return geteuid() == 0 || (effective_caps() & need) == need;
}

/* A user by name or uid[:gid] into *uid, *gid; -1 (err names flag) when unknown or root. */
static int resolve_user(const char *flag, const char *spec, uid_t *uid, gid_t *gid, char *err,
                        size_t size)
{
    char *end;
    unsigned long id = strtoul(spec, &end, 10);
    if (spec[0] && end != spec && (*end == '\0' || *end == ':')) {
        *uid = (uid_t)id;
        *gid = *end == ':' ? (gid_t)strtoul(end + 1, NULL, 10) : (gid_t)id;
    } else {
        struct passwd *pw = getpwnam(spec);
        if (!pw) {
            snprintf(err, size, "%s %s: no such user", flag, spec);
            return -1;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (*uid == 0 || *gid == 0) {
        snprintf(err, size, "%s %s: must not be root", flag, spec);
        return -1;
    }
    return 0;
}

int privsep_prepare(const struct config *cfg, struct privsep_user *u, char *err, size_t size)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", cfg->privsep_user);
    if (!may_change_ids())
        return 0;
    if (resolve_user("--privsep-user", cfg->privsep_user, &u->uid, &u->gid, err, size) != 0)
        return -1;
    u->change = true;
    return 0;
}

/* ---- the sandbox ---- */

static bool kept(int fd, const int *keep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keep[i] == fd)
            return true;
    return false;
}

static void close_others(const int *keep, size_t n)
{
    long max = sysconf(_SC_OPEN_MAX);

    if (max < 0 || max > 65536)
        max = 65536;
#ifdef SYS_close_range
    int from = 3;
    for (;;) { /* close the gaps between the kept descriptors */
        int next = -1;
        for (size_t i = 0; i < n; i++)
            if (keep[i] >= from && (next < 0 || keep[i] < next))
                next = keep[i];
        unsigned int last = next < 0 ? ~0u : (unsigned int)next - 1;
        if (next < 0 || next > from) {
            if (syscall(SYS_close_range, (unsigned int)from, last, 0) != 0)
                break; /* an old kernel: the loop below */
        }
        if (next < 0)
            return;
        from = next + 1;
    }
#endif
    for (int fd = 3; fd < max; fd++)
        if (!kept(fd, keep, n))
            close(fd);
}

/* Empties the permitted, effective and inheritable sets (and so the ambient one). A process that
 * has none already makes no capset call: systemd's SystemCallFilter=~@privileged refuses it. */
static int drop_caps(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    bool any = true;

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) == 0) {
        any = false;
        for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
            any |= data[i].permitted || data[i].effective || data[i].inheritable;
    }
    if (!any)
        return 0;
    memset(data, 0, sizeof(data));
    hdr = (struct __user_cap_header_struct){_LINUX_CAPABILITY_VERSION_3, 0};
    return (int)syscall(SYS_capset, &hdr, data);
}

/* What the HTTP process may call: libmicrohttpd's threads (epoll, accept, send/recv), the channel,
 * memory, threads, time, signals. Everything else kills the process, but for the calls below that
 * answer EACCES: those an intruder would try first (files, sockets, programs, other processes), so
 * that the refusal is seen (and logged by the self-test) rather than a bare SIGSYS. */
static const int allowed[] = {
    SCMP_SYS(read),          SCMP_SYS(write),           SCMP_SYS(readv),
    SCMP_SYS(writev),        SCMP_SYS(close),           SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),    SCMP_SYS(lseek),           SCMP_SYS(poll),
    SCMP_SYS(ppoll),         SCMP_SYS(select),          SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create),  SCMP_SYS(epoll_create1),   SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),    SCMP_SYS(epoll_pwait),     SCMP_SYS(epoll_pwait2),
    SCMP_SYS(eventfd2),      SCMP_SYS(pipe2),           SCMP_SYS(accept),
    SCMP_SYS(accept4),       SCMP_SYS(recvfrom),        SCMP_SYS(recvmsg),
    SCMP_SYS(sendto),        SCMP_SYS(sendmsg),         SCMP_SYS(shutdown),
    SCMP_SYS(setsockopt),    SCMP_SYS(getsockopt),      SCMP_SYS(getsockname),
    SCMP_SYS(getpeername),   SCMP_SYS(fcntl),           SCMP_SYS(mmap),
    SCMP_SYS(munmap),        SCMP_SYS(mremap),          SCMP_SYS(mprotect),
    SCMP_SYS(madvise),       SCMP_SYS(brk),             SCMP_SYS(futex),
    SCMP_SYS(set_robust_list), SCMP_SYS(rseq),          SCMP_SYS(clone),
    SCMP_SYS(rt_sigaction),  SCMP_SYS(rt_sigprocmask),  SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack),   SCMP_SYS(exit),
    SCMP_SYS(exit_group),    SCMP_SYS(gettid),          SCMP_SYS(getpid),
    SCMP_SYS(getppid),       SCMP_SYS(clock_gettime),   SCMP_SYS(clock_getres),
    SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),     SCMP_SYS(gettimeofday),
    SCMP_SYS(sched_yield),   SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom),
    SCMP_SYS(restart_syscall), SCMP_SYS(getuid),        SCMP_SYS(geteuid),
    SCMP_SYS(getgid),        SCMP_SYS(getegid),         SCMP_SYS(uname),
    SCMP_SYS(sysinfo),       SCMP_SYS(time),
#ifdef SANITIZED
    /* the sanitizers' runtime (reports, its background thread): test builds only */
    SCMP_SYS(readlink),      SCMP_SYS(getrusage),       SCMP_SYS(prctl),
    SCMP_SYS(prlimit64),     SCMP_SYS(sched_getparam),  SCMP_SYS(mincore),
    SCMP_SYS(msync),         SCMP_SYS(getrlimit),
#endif
};

static const int refused[] = {
    SCMP_SYS(open),          SCMP_SYS(openat),          SCMP_SYS(openat2),
    SCMP_SYS(creat),         SCMP_SYS(socket),          SCMP_SYS(socketpair),
    SCMP_SYS(connect),       SCMP_SYS(bind),            SCMP_SYS(listen),
    SCMP_SYS(execve),        SCMP_SYS(execveat),        SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(kill),
    SCMP_SYS(unlink),        SCMP_SYS(unlinkat),        SCMP_SYS(rename),
    SCMP_SYS(renameat),      SCMP_SYS(renameat2),       SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat),       SCMP_SYS(chmod),           SCMP_SYS(fchmodat),
    SCMP_SYS(chown),         SCMP_SYS(fchownat),        SCMP_SYS(setuid),
    SCMP_SYS(setgid),        SCMP_SYS(setresuid),       SCMP_SYS(setresgid),
    SCMP_SYS(mount),         SCMP_SYS(pidfd_open),      SCMP_SYS(pidfd_getfd),
    SCMP_SYS(memfd_create),  SCMP_SYS(fork),            SCMP_SYS(vfork),
};

static int load_filter(char *err, size_t size)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int rc = ctx ? 0 : -ENOMEM;

    for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    for (size_t i = 0; rc == 0 && i < sizeof(refused) / sizeof(refused[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), refused[i], 0);
    /* tgkill: signals to its own threads only (abort() raises SIGABRT: a crash reads as one) */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
    /* glibc tries clone3 first and falls back to clone on ENOSYS */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* ioctl: only the non-blocking flag and the bytes-ready count (no terminal requests) */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FIONBIO, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FIONREAD, 0));
#ifndef SANITIZED
    /* prlimit64: reading a limit only (getrlimit) */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                              SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)0, 0));
    /* prctl: naming a thread only */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)PR_SET_NAME, 0));
#endif
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (ctx)
        seccomp_release(ctx);
    if (rc != 0) {
        snprintf(err, size, "seccomp filter: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int privsep_sandbox(const struct privsep_user *u, const int *keep, size_t n_keep, char *err,
                    size_t size)
{
    uid_t old_uid = getuid();
    gid_t old_gid = getgid();

    close_others(keep, n_keep);
    if (u->change) {
        if (setgroups(0, NULL) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 ||
            setresuid(u->uid, u->uid, u->uid) != 0) {
            snprintf(err, size, "cannot become %s (uid %u gid %u): %s", u->name, (unsigned)u->uid,
                     (unsigned)u->gid, strerror(errno));
            return -1;
        }
    }
    /* started without root but with CAP_SETUID/CAP_SETGID, the identity change kept them */
    if (drop_caps() != 0) {
        snprintf(err, size, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    if (u->change) {
        uid_t r, e, s;
        gid_t rg, eg, sg;
        if (getresuid(&r, &e, &s) != 0 || r != u->uid || e != u->uid || s != u->uid ||
            getresgid(&rg, &eg, &sg) != 0 || rg != u->gid || eg != u->gid || sg != u->gid ||
            getgroups(0, NULL) != 0) {
            snprintf(err, size, "the change to %s did not hold (ids or groups left)", u->name);
            return -1;
        }
        if ((old_uid != u->uid && regains_uid(old_uid)) || regains_uid(0) ||
            (old_gid != u->gid && regains_gid(old_gid)) || regains_gid(0)) {
            snprintf(err, size, "could take its old ids again after changing to %s", u->name);
            return -1;
        }
    }
    /* after the identity change, which clears it: dies with its parent */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
        snprintf(err, size, "PR_SET_PDEATHSIG: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, size, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    return load_filter(err, size);
}

/* ---- the HTTP process ---- */

/* TRIP_PRIVSEP_SELFTEST=1: right after entering the sandbox the HTTP process tries what an
 * intruder in it would (reach the Docker socket, open the state directory and /etc/passwd) and
 * logs what the kernel answered. Changes nothing. */
static void self_test(const char *docker_path, const char *state_dir)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int sock_errno = s < 0 ? errno : 0;
    if (s >= 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", docker_path);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            sock_errno = errno;
        close(s);
    }
    int f = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dir_errno = f < 0 ? errno : 0;
    if (f >= 0)
        close(f);
    f = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    int passwd_errno = f < 0 ? errno : 0;
    if (f >= 0)
        close(f);
    log_info("privsep self-test",
             "docker_socket=%s docker_socket_error=%s state_dir=%s state_dir_error=%s "
             "etc_passwd=%s etc_passwd_error=%s path=%s",
             sock_errno ? "refused" : "REACHED", sock_errno ? strerror(sock_errno) : "-",
             dir_errno ? "refused" : "OPENED", dir_errno ? strerror(dir_errno) : "-",
             passwd_errno ? "refused" : "OPENED", passwd_errno ? strerror(passwd_errno) : "-",
             docker_path);
}

/* The Docker socket's path the parent will use, for the self-test. */
static void docker_path_of(const struct config *cfg, char *buf, size_t size)
{
    const char *host = cfg->docker_host[0] ? cfg->docker_host : getenv("DOCKER_HOST");

    if (host && strncmp(host, "unix://", 7) == 0)
        snprintf(buf, size, "%s", host + 7);
    else
        snprintf(buf, size, "/var/run/docker.sock");
}

static _Noreturn void child_main(const struct config *cfg, const struct privsep_user *u,
                                 int ipc_fd, int listen_fd, pid_t parent)
{
    const int keep[] = {ipc_fd, listen_fd};
    char err[256], docker_path[CONFIG_STR_MAX];
    const char *st = getenv("TRIP_PRIVSEP_SELFTEST");
    bool selftest = st && strcmp(st, "1") == 0;
    struct http *h = NULL;
    struct http_err herr = {0};
    sigset_t set;
    const struct timespec tick = {0, 100 * 1000 * 1000};

    docker_path_of(cfg, docker_path, sizeof(docker_path));
    if (privsep_sandbox(u, keep, 2, err, sizeof(err)) != 0) {
        log_error("the HTTP process cannot enter its sandbox; not serving", "error=%s", err);
        _exit(1);
    }
    if (getppid() != parent) /* it died before PR_SET_PDEATHSIG */
        _exit(1);
    if (selftest)
        self_test(docker_path, cfg->state_dir);
    /* wait until the engine runs */
    uint8_t *msg = NULL, type = 0;
    size_t len;
    uint32_t id;
    struct ipc_err ierr = {0};
    if (ipc_read(ipc_fd, 0, &msg, &len, &type, &id, &ierr) != IPC_OK || type != IPC_START)
        _exit(ierr.code == IPC_E_EOF ? 0 : 1); /* the parent did not start: it says why */
    free(msg);
    if (http_start_fd(cfg, ipc_fd, listen_fd, &h, &herr) != HTTP_OK) {
        log_error("cannot start HTTP server", "error=%s", herr.msg);
        _exit(1);
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    while (!http_channel_closed(h)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            http_quiesce(h); /* the parent closes the channel when its jobs are done */
    }
    http_free(h);
    /* _exit: the parent flushes and logs the stop; nothing here is left to write */
    _exit(0);
}

pid_t privsep_fork(const struct config *cfg, const struct privsep_user *u, int listen_fd,
                   int *ipc_fd, char *err, size_t size)
{
    int sv[2];
    pid_t parent = getpid();

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, size, "socketpair: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, size, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(cfg, u, sv[1], listen_fd, parent);
    }
    close(sv[1]);
    close(listen_fd);
    *ipc_fd = sv[0];
    return pid;
}

/* ---- the privileged process ---- */

int privsep_parent_prepare(const struct config *cfg, struct privsep_parent *p, char *err,
                           size_t size)
{
    char path[CONFIG_STR_MAX];
    struct stat sb;

    memset(p, 0, sizeof(*p));
    p->docker_gid = (gid_t)-1;
    if (!cfg->user[0])
        return 0;
    if (!may_change_ids()) {
        snprintf(err, size,
                 "--user %s: changing users needs root or CAP_SETUID and CAP_SETGID", cfg->user);
        return -1;
    }
    if (resolve_user("--user", cfg->user, &p->uid, &p->gid, err, size) != 0)
        return -1;
    docker_path_of(cfg, path, sizeof(path));
    /* a TCP DOCKER_HOST has no socket file: no group to keep */
    if (stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
        p->docker_gid = sb.st_gid;
    p->change = true;
    return 0;
}

/* Clears the ambient set, the bounding set when allowed, then the permitted/effective/inheritable
 * sets (no capset call when they are empty already). */
static int drop_all_caps(char *err, size_t size)
{
    /* EINVAL: a kernel without ambient capabilities (before 4.3) */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        snprintf(err, size, "cannot clear the ambient capabilities: %s", strerror(errno));
        return -1;
    }
    if (effective_caps() & (1ull << CAP_SETPCAP)) {
        for (int c = 0; c <= CAP_LAST_CAP; c++)
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 &&
                prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
                snprintf(err, size, "cannot drop capability %d from the bounding set: %s", c,
                         strerror(errno));
                return -1;
            }
    }
    if (drop_caps() != 0) {
        snprintf(err, size, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int privsep_drop_parent(const struct privsep_parent *p, char *err, size_t size)
{
    if (p->change) {
        gid_t groups[1] = {p->docker_gid};
        size_t n = p->docker_gid != (gid_t)-1 && p->docker_gid != p->gid ? 1 : 0;
        if (setgroups(n, groups) != 0 || setresgid(p->gid, p->gid, p->gid) != 0 ||
            setresuid(p->uid, p->uid, p->uid) != 0) {
            snprintf(err, size, "cannot become uid %u gid %u: %s", (unsigned)p->uid,
                     (unsigned)p->gid, strerror(errno));
            return -1;
        }
    }
    if (drop_all_caps(err, size) != 0)
        return -1;
    if (p->change) {
        uid_t r, e, s;
        gid_t rg, eg, sg;
        if (getresuid(&r, &e, &s) != 0 || r != p->uid || e != p->uid || s != p->uid ||
            getresgid(&rg, &eg, &sg) != 0 || rg != p->gid || eg != p->gid || sg != p->gid ||
            regains_uid(0) || regains_gid(0)) {
            snprintf(err, size, "the change to uid %u gid %u did not hold", (unsigned)p->uid,
                     (unsigned)p->gid);
            return -1;
        }
    }
    if (effective_caps() != 0) {
        snprintf(err, size, "capabilities left after dropping them");
        return -1;
    }
    return 0;
}

int privsep_reap(pid_t child, int timeout_ms)
{
    int status = 0;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    const struct timespec pause = {0, 10 * 1000 * 1000};

    for (;;) {
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child || (r < 0 && errno != EINTR))
            return status;
        if (clock_mono_ms() >= deadline) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            return status;
        }
        nanosleep(&pause, NULL);
    }
}
