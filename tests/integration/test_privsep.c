/* test_privsep.c: privilege separation of the real daemon next to the real Docker socket. The
 * process that parses HTTP is a child without the socket: as /proc shows it (uid, groups,
 * capabilities, no_new_privs, seccomp mode, its descriptors) and as it finds out when it tries
 * (TRIP_PRIVSEP_SELFTEST=1: it connects to the Docker socket and opens the state directory and
 * /etc/passwd from inside its sandbox, and logs the kernel's answers). Every endpoint that needs
 * the engine still answers through the channel. The child's death stops the daemon with exit 1
 * (so the service manager restarts both), and the parent's death ends the child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

static struct ts_http_reply *rep;
/* The test's daemon: stopped by stop_daemon() even when an assertion ends the test early. */
static struct ts_receiver rx;

static int group_setup(void **state)
{
    (void)state;
    rep = malloc(sizeof(*rep));
    return rep ? 0 : -1;
}

static int stop_daemon(void **state)
{
    (void)state;
    if (rx.pid > 0 || rx.state_dir[0])
        ts_receiver_stop(&rx, false);
    memset(&rx, 0, sizeof(rx));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(rep);
    ts_docker_cleanup();
    return 0;
}

/* The HTTP process's pid from the daemon's "privilege separation" log line, or -1. */
static pid_t http_pid(const struct ts_receiver *r)
{
    char buf[8192];
    FILE *f;
    size_t n;
    pid_t pid = -1;

    if (!ts_receiver_log_has(r, "http_pid=", 10000) || !(f = fopen(r->log_path, "r")))
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "http_pid=");
    if (p)
        pid = (pid_t)atoi(p + 9);
    return pid;
}

/* The value of field (e.g. "Uid") in /proc/pid/status, with tabs as single spaces and no trailing
 * space. */
static void proc_status(pid_t pid, const char *field, char *out, size_t size)
{
    char path[64], line[256];
    size_t fl = strlen(field);
    FILE *f;

    out[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            char *v = line + fl + 1;
            while (*v == '\t' || *v == ' ')
                v++;
            v[strcspn(v, "\n")] = '\0';
            for (char *c = v; *c; c++)
                if (*c == '\t')
                    *c = ' ';
            for (size_t n = strlen(v); n > 0 && v[n - 1] == ' '; n--)
                v[n - 1] = '\0'; /* "Groups:\t105 \n" */
            snprintf(out, size, "%s", v);
            break;
        }
    }
    fclose(f);
}

/* Whether inode is an AF_UNIX socket (in /proc/pid/net/unix); *named says whether it has a path. */
static bool unix_inode(pid_t pid, unsigned long inode, bool *named)
{
    char path[64], line[512];
    FILE *f;
    bool found = false;

    snprintf(path, sizeof(path), "/proc/%d/net/unix", (int)pid);
    if (!(f = fopen(path, "r")))
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long ino = 0;
        char name[300] = "";
        /* Num RefCount Protocol Flags Type St Inode Path */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %299s", &ino, name) >= 1 && ino == inode) {
            found = true;
            *named = name[0] != '\0';
        }
    }
    fclose(f);
    return found;
}

struct fds {
    int total, unix_sockets, named_unix, other_sockets, files;
    char files_seen[512];
};

/* The HTTP process's descriptors by kind. */
static void child_fds(pid_t pid, struct fds *out)
{
    char dir[64], link[360], target[512];
    DIR *d;
    struct dirent *e;

    memset(out, 0, sizeof(*out));
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        out->total++;
        unsigned long inode;
        bool named = false;
        if (sscanf(target, "socket:[%lu]", &inode) == 1) {
            if (unix_inode(pid, inode, &named)) {
                out->unix_sockets++;
                out->named_unix += named;
            } else {
                out->other_sockets++;
            }
        } else if (atoi(e->d_name) > 2 && strncmp(target, "anon_inode:", 11) != 0) {
            out->files++;
            snprintf(out->files_seen + strlen(out->files_seen),
                     sizeof(out->files_seen) - strlen(out->files_seen), "%.100s ", target);
        }
    }
    closedir(d);
}

static void http_process_is_sandboxed_and_refused(void **state)
{
    char uid[128], gid[128], groups[128], capeff[64], capprm[64], nnp[16], seccomp[16];
    char puid[128], pseccomp[16], ppid_s[32];
    struct fds fds;
    (void)state;
    ts_require_docker_image();
    setenv("TRIP_PRIVSEP_SELFTEST", "1", 1);
    int started = ts_receiver_start(&rx, NULL);
    unsetenv("TRIP_PRIVSEP_SELFTEST");
    assert_int_equal(started, 0);
    pid_t child = http_pid(&rx);
    assert_true(child > 0);
    assert_int_equal(ts_http(&rx, "GET", "/readyz", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200); /* the parent reached Docker: the socket is there */

    proc_status(child, "Uid", uid, sizeof(uid));
    proc_status(child, "Gid", gid, sizeof(gid));
    proc_status(child, "Groups", groups, sizeof(groups));
    proc_status(child, "CapEff", capeff, sizeof(capeff));
    proc_status(child, "CapPrm", capprm, sizeof(capprm));
    proc_status(child, "NoNewPrivs", nnp, sizeof(nnp));
    proc_status(child, "Seccomp", seccomp, sizeof(seccomp));
    proc_status(child, "PPid", ppid_s, sizeof(ppid_s));
    proc_status(rx.pid, "Uid", puid, sizeof(puid));
    proc_status(rx.pid, "Seccomp", pseccomp, sizeof(pseccomp));
    child_fds(child, &fds);
    print_message("http process %d: Uid %s, Gid %s, Groups [%s], CapEff %s, CapPrm %s, "
                  "NoNewPrivs %s, Seccomp %s; parent %d: Uid %s, Seccomp %s\n",
                  (int)child, uid, gid, groups, capeff, capprm, nnp, seccomp, (int)rx.pid, puid,
                  pseccomp);
    print_message("http process fds: %d in all, %d AF_UNIX (%d with a path), %d other sockets, "
                  "%d files beyond stdio [%s]\n",
                  fds.total, fds.unix_sockets, fds.named_unix, fds.other_sockets, fds.files,
                  fds.files_seen);
    assert_int_equal(atoi(ppid_s), rx.pid);
    if (geteuid() == 0) { /* started as root: it became nobody, without groups */
        assert_string_equal(uid, "65534 65534 65534 65534");
        assert_string_equal(gid, "65534 65534 65534 65534");
        assert_string_equal(groups, "");
        assert_string_equal(puid, "0 0 0 0"); /* the parent keeps the socket's access */
    }
    assert_string_equal(capeff, "0000000000000000");
    assert_string_equal(capprm, "0000000000000000");
    assert_string_equal(nnp, "1");
    assert_string_equal(seccomp, "2"); /* filter mode */
    assert_string_equal(pseccomp, "0");
    /* its descriptors: the channel (one unnamed AF_UNIX socket), the listening TCP socket and
     * its clients' (this test's /readyz may still be open), libmicrohttpd's epoll/eventfd; no
     * Docker connection, no file */
    assert_int_equal(fds.unix_sockets, 1);
    assert_int_equal(fds.named_unix, 0);
    assert_true(fds.other_sockets >= 1);
    assert_int_equal(fds.files, 0);

    /* the active attempt, from inside the sandbox */
    assert_true(ts_receiver_log_has(&rx, "msg=\"privsep self-test\"", 5000));
    assert_true(ts_receiver_log_has(&rx, "docker_socket=refused", 100));
    assert_true(ts_receiver_log_has(&rx, "state_dir=refused", 100));
    assert_true(ts_receiver_log_has(&rx, "etc_passwd=refused", 100));
    assert_false(ts_receiver_log_has(&rx, "REACHED", 100));
    assert_false(ts_receiver_log_has(&rx, "OPENED", 100));
    assert_int_equal(ts_receiver_stop(&rx, false), 0);
}

/* What needs the engine comes over the channel: readiness, metrics (with the HTTP side's
 * counters), state views, the action history, a webhook's decision and a manual call's outcome. */
static void endpoints_answer_through_the_channel(void **state)
{
    char name[128], body[512], path[256];
    (void)state;
    ts_require_docker_image();
    ts_docker_name(name, sizeof(name), "privsep-absent");
    assert_int_equal(ts_receiver_start(&rx, NULL), 0);
    assert_int_equal(ts_http(&rx, "GET", "/readyz", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"status\":\"ready\""));
    assert_non_null(strstr(rep->body, "\"api\""));
    assert_int_equal(ts_http(&rx, "GET", "/api/v1/containers", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "\"containers\""));
    assert_int_equal(ts_http(&rx, "GET", "/api/v1/actions?limit=5", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_int_equal(ts_http(&rx, "GET", "/api/v1/actions?limit=0", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 400);
    snprintf(body, sizeof(body),
             "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"ContainerHighCpu\","
             "\"name\":\"%s\"}}]}",
             name);
    assert_int_equal(ts_http_json(&rx, "POST", "/webhook", NULL, body, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(strstr(rep->body, "no such container"));
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);
    assert_int_equal(ts_http_json(&rx, "POST", path, NULL, "{\"resource\":\"cpu\"}", rep), 0);
    assert_int_equal(rep->status, 404);
    assert_non_null(strstr(rep->body, "\"result\":\"ignored\""));
    snprintf(path, sizeof(path), "/api/v1/containers/%s/maintenance", name);
    assert_int_equal(ts_http_json(&rx, "POST", path, NULL, "{\"enabled\":true}", rep), 0);
    assert_int_equal(rep->status, 404);
    assert_int_equal(ts_http(&rx, "GET", "/", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_int_equal(ts_http(&rx, "GET", "/metrics", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    assert_non_null(
        strstr(rep->body, "trip_http_requests_total{route=\"webhook\",code=\"200\"} 1"));
    assert_non_null(strstr(rep->body, "trip_http_requests_total{route=\"scale\",code=\"404\"} 1"));
    assert_non_null(strstr(rep->body, "trip_webhook_alerts_total{result=\"ignored\"} 1"));
    assert_int_equal(ts_receiver_stop(&rx, false), 0);
}

/* The HTTP process dies (here: SIGKILL): the daemon stops in order and exits 1, which systemd's
 * Restart=on-failure and Docker's restart policy answer by starting both again. */
static void http_process_death_stops_the_daemon_with_1(void **state)
{
    int status = 0;
    (void)state;
    ts_require_docker_image();
    assert_int_equal(ts_receiver_start(&rx, NULL), 0);
    pid_t child = http_pid(&rx);
    assert_true(child > 0);
    assert_int_equal(kill(child, SIGKILL), 0);
    pid_t r = 0;
    for (int i = 0; i < 200 && r == 0; i++) {
        r = waitpid(rx.pid, &status, WNOHANG);
        if (r == 0)
            usleep(50000);
    }
    assert_int_equal(r, rx.pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(ts_receiver_log_has(&rx, "the HTTP process ended", 100));
    assert_true(ts_receiver_log_has(&rx, "killed by signal 9", 100));
    assert_true(ts_receiver_log_has(&rx, "msg=stopped", 100) ||
                ts_receiver_log_has(&rx, "level=error", 100));
    rx.pid = 0; /* reaped */
    ts_receiver_stop(&rx, false);
}

/* The privileged process dies (SIGKILL): the HTTP process goes with it at once (channel closed,
 * PR_SET_PDEATHSIG), so nothing keeps answering on the port with nobody behind it. */
static void assert_parent_death_ends_child(void)
{
    char st[64];
    pid_t child = http_pid(&rx);
    assert_true(child > 0);
    ts_receiver_kill9(&rx);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        proc_status(child, "State", st, sizeof(st));
        gone = st[0] == '\0' || st[0] == 'Z';
        if (!gone)
            usleep(20000);
    }
    assert_true(gone);
}

static void parent_death_ends_the_http_process(void **state)
{
    (void)state;
    ts_require_docker_image();
    assert_int_equal(ts_receiver_start(&rx, NULL), 0);
    assert_parent_death_ends_child();
}


/* The identity and capability sets of pid as /proc shows them. */
struct ident {
    char uid[128], gid[128], groups[128], capinh[32], capprm[32], capeff[32], capamb[32];
};

static void ident_of(pid_t pid, struct ident *id)
{
    proc_status(pid, "Uid", id->uid, sizeof(id->uid));
    proc_status(pid, "Gid", id->gid, sizeof(id->gid));
    proc_status(pid, "Groups", id->groups, sizeof(id->groups));
    proc_status(pid, "CapInh", id->capinh, sizeof(id->capinh));
    proc_status(pid, "CapPrm", id->capprm, sizeof(id->capprm));
    proc_status(pid, "CapEff", id->capeff, sizeof(id->capeff));
    proc_status(pid, "CapAmb", id->capamb, sizeof(id->capamb));
    print_message("pid %d: Uid %s, Gid %s, Groups [%s], CapInh %s, CapPrm %s, CapEff %s, "
                  "CapAmb %s\n",
                  (int)pid, id->uid, id->gid, id->groups, id->capinh, id->capprm, id->capeff,
                  id->capamb);
}

static void assert_no_caps(const struct ident *id)
{
    assert_string_equal(id->capinh, "0000000000000000");
    assert_string_equal(id->capprm, "0000000000000000");
    assert_string_equal(id->capeff, "0000000000000000");
    assert_string_equal(id->capamb, "0000000000000000");
}

#define SETPRIV "/usr/bin/setpriv" /* util-linux: a real launch with other ids and capabilities */
#define SERVICE_ID 65532            /* the compose service's uid and gid (receiver/Dockerfile) */

/* Needs root (to launch with another identity) and setpriv. */
static gid_t socket_gid_or_skip(void)
{
    struct stat sb;
    ts_require_docker_image();
    if (geteuid() != 0)
        ts_skip("launching the daemon as another user needs root");
    if (access(SETPRIV, X_OK) != 0)
        ts_skip("%s (util-linux) is missing", SETPRIV);
    assert_int_equal(stat(ts_docker_socket(), &sb), 0);
    return sb.st_gid;
}

/* The parent still reaches Docker and acts: /readyz, then a manual CPU scale-out that lands. */
static void parent_reaches_docker_and_acts(const char *what)
{
    char name[128], id[80], path[256];
    const char *labels[] = {"trip.enable=true", NULL};

    assert_int_equal(ts_http(&rx, "GET", "/readyz", NULL, NULL, 0, rep), 0);
    assert_int_equal(rep->status, 200);
    ts_docker_name(name, sizeof(name), what);
    assert_int_equal(ts_docker_run_container(id, sizeof(id), name, labels, NULL), 0);
    snprintf(path, sizeof(path), "/api/v1/containers/%s/scale", name);
    long status = 0;
    for (int i = 0; i < 50; i++) { /* until the refresh (200 ms) has seen the new container */
        assert_int_equal(ts_http_json(&rx, "POST", path, NULL,
                                      "{\"resource\":\"cpu\",\"direction\":\"out\"}", rep),
                         0);
        status = rep->status;
        if (status != 404)
            break;
        usleep(100000);
    }
    assert_int_equal(status, 200);
    assert_true(ts_docker_wait_i64(name, "{{.HostConfig.CpuShares}}", 1024, 10000) >= 0);
    ts_docker(NULL, 0, "rm", "-f", name, NULL);
}

/* The systemd unit's set-up: a non-root user with the socket's group and ambient CAP_SETUID and
 * CAP_SETGID (AmbientCapabilities=). The HTTP process becomes nobody without any group, the
 * parent keeps its user and the socket's group but no capability, and still acts on Docker. */
static void non_root_with_setuid_caps_drops_the_http_process_to_nobody(void **state)
{
    char gidarg[64], groupsarg[64], want_groups[32];
    struct ident c, p;
    (void)state;
    gid_t sg = socket_gid_or_skip();
    snprintf(gidarg, sizeof(gidarg), "--regid=%d", SERVICE_ID);
    snprintf(groupsarg, sizeof(groupsarg), "--groups=%u", (unsigned)sg);
    const char *wrap[] = {SETPRIV, "--reuid=65532", gidarg, groupsarg,
                          "--inh-caps=-all,+setuid,+setgid", "--ambient-caps=-all,+setuid,+setgid",
                          NULL};
    assert_int_equal(ts_receiver_start_wrapped(&rx, wrap, SERVICE_ID, SERVICE_ID, NULL), 0);
    pid_t child = http_pid(&rx);
    assert_true(child > 0);
    ident_of(child, &c);
    ident_of(rx.pid, &p);
    assert_string_equal(c.uid, "65534 65534 65534 65534");
    assert_string_equal(c.gid, "65534 65534 65534 65534");
    assert_string_equal(c.groups, "");
    assert_no_caps(&c);
    assert_string_equal(p.uid, "65532 65532 65532 65532");
    assert_string_equal(p.gid, "65532 65532 65532 65532");
    snprintf(want_groups, sizeof(want_groups), "%u", (unsigned)sg);
    assert_string_equal(p.groups, want_groups);
    assert_no_caps(&p);
    parent_reaches_docker_and_acts("privsep-ambient");
    assert_int_equal(ts_receiver_stop(&rx, false), 0);
}

/* The compose set-up: root with only CAP_SETUID and CAP_SETGID (cap_drop ALL, cap_add) and no
 * supplementary group, --user 65532:65532. The parent ends as 65532 with the socket's group (read
 * from the socket itself) and no capability, the HTTP process as nobody without groups. */
static void root_with_only_setuid_caps_and_user_ends_unprivileged(void **state)
{
    char want_groups[32];
    struct ident c, p;
    (void)state;
    gid_t sg = socket_gid_or_skip();
    const char *wrap[] = {SETPRIV, "--clear-groups", "--inh-caps=-all",
                          "--bounding-set=-all,+setuid,+setgid", NULL};
    const char *args[] = {"--user", "65532:65532", NULL};
    assert_int_equal(ts_receiver_start_wrapped(&rx, wrap, SERVICE_ID, SERVICE_ID, args), 0);
    pid_t child = http_pid(&rx);
    assert_true(child > 0);
    ident_of(child, &c);
    ident_of(rx.pid, &p);
    assert_string_equal(c.uid, "65534 65534 65534 65534");
    assert_string_equal(c.gid, "65534 65534 65534 65534");
    assert_string_equal(c.groups, "");
    assert_no_caps(&c);
    assert_string_equal(p.uid, "65532 65532 65532 65532");
    assert_string_equal(p.gid, "65532 65532 65532 65532");
    snprintf(want_groups, sizeof(want_groups), "%u", (unsigned)sg);
    assert_string_equal(p.groups, want_groups);
    assert_no_caps(&p);
    parent_reaches_docker_and_acts("privsep-user");
    assert_int_equal(ts_receiver_stop(&rx, false), 0);
}

/* --user without the privilege to change users is refused at start, with the reason. */
static void user_without_privilege_is_refused(void **state)
{
    char out[4096], gidarg[64];
    (void)state;
    (void)socket_gid_or_skip();
    snprintf(gidarg, sizeof(gidarg), "--regid=%d", SERVICE_ID);
    const char *wrap[] = {SETPRIV, "--reuid=65532", gidarg, "--clear-groups", NULL};
    const char *args[] = {"--user", "65533:65533", NULL};
    assert_int_not_equal(ts_receiver_start_wrapped(&rx, wrap, SERVICE_ID, SERVICE_ID, args), 0);
    char *log = ts_read_file(rx.log_path, NULL);
    assert_non_null(log);
    snprintf(out, sizeof(out), "%s", log);
    free(log);
    assert_non_null(strstr(out, "changing users needs root or CAP_SETUID and CAP_SETGID"));
}

/* The same when the parent (uid 65532, no capability left) may not signal the HTTP process
 * (nobody): the kernel drops PR_SET_PDEATHSIG then, and the channel's end stops it instead. */
static void parent_death_ends_the_http_process_of_another_user(void **state)
{
    (void)state;
    (void)socket_gid_or_skip();
    const char *wrap[] = {SETPRIV, "--clear-groups", "--inh-caps=-all",
                          "--bounding-set=-all,+setuid,+setgid", NULL};
    const char *args[] = {"--user", "65532:65532", NULL};
    assert_int_equal(ts_receiver_start_wrapped(&rx, wrap, SERVICE_ID, SERVICE_ID, args), 0);
    assert_parent_death_ends_child();
    assert_true(ts_receiver_log_has(&rx, "the privileged process is gone", 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(http_process_is_sandboxed_and_refused, stop_daemon),
        cmocka_unit_test_teardown(endpoints_answer_through_the_channel, stop_daemon),
        cmocka_unit_test_teardown(http_process_death_stops_the_daemon_with_1, stop_daemon),
        cmocka_unit_test_teardown(parent_death_ends_the_http_process, stop_daemon),
        cmocka_unit_test_teardown(non_root_with_setuid_caps_drops_the_http_process_to_nobody,
                                  stop_daemon),
        cmocka_unit_test_teardown(root_with_only_setuid_caps_and_user_ends_unprivileged,
                                  stop_daemon),
        cmocka_unit_test_teardown(user_without_privilege_is_refused, stop_daemon),
        cmocka_unit_test_teardown(parent_death_ends_the_http_process_of_another_user, stop_daemon),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
