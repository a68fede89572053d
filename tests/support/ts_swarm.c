/* ts_swarm.c: a single-node swarm for the tests, left as it was found (see ts_swarm.h). */
#include "ts_swarm.h"

#include "docker_client.h"
#include "ts_docker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 64

static bool begun;
static bool initialised;
static bool had_gwbridge; /* docker_gwbridge existed before the swarm was initialised here */
static pid_t owner;

bool ts_swarm_active(void)
{
    char out[64];

    if (ts_docker(out, sizeof(out), "info", "--format", "{{.Swarm.LocalNodeState}}", NULL) != 0)
        return false;
    return strcmp(out, "active") == 0;
}

static void end_at_exit(void)
{
    if (getpid() == owner)
        ts_swarm_end();
}

int ts_swarm_begin(void)
{
    char err[1024];
    const char *argv[] = {"swarm", "init", "--advertise-addr", "127.0.0.1", NULL};

    if (begun)
        return 0;
    if (!ts_swarm_active()) {
        const char *probe[] = {"network", "inspect", "docker_gwbridge", NULL};
        had_gwbridge = ts_docker_argv(NULL, 0, err, sizeof(err), probe) == 0;
        if (ts_docker_argv(NULL, 0, err, sizeof(err), argv) != 0) {
            fprintf(stderr, "ts_swarm_begin: docker swarm init: %s\n", err);
            return -1;
        }
        initialised = true;
        fprintf(stderr, "ts_swarm: initialised a single-node swarm (left again at the end)\n");
    }
    begun = true;
    if (owner == 0) {
        owner = getpid();
        atexit(end_at_exit);
    }
    return 0;
}

bool ts_swarm_initialised_here(void)
{
    return initialised;
}

void ts_swarm_end(void)
{
    char err[1024];
    const char *argv[] = {"swarm", "leave", "--force", NULL};

    if (!begun)
        return;
    ts_swarm_cleanup();
    begun = false;
    if (!initialised)
        return;
    initialised = false;
    if (ts_docker_argv(NULL, 0, err, sizeof(err), argv) != 0)
        fprintf(stderr, "ts_swarm_end: docker swarm leave --force: %s\n", err);
    /* `swarm init` made the bridge and `swarm leave` keeps it: remove what was not there */
    const char *rm[] = {"network", "rm", "docker_gwbridge", NULL};
    if (!had_gwbridge && ts_docker_argv(NULL, 0, err, sizeof(err), rm) != 0)
        fprintf(stderr, "ts_swarm_end: docker network rm docker_gwbridge: %s\n", err);
}

char *ts_swarm_name(char *buf, size_t len, const char *what)
{
    static int n;

    snprintf(buf, len, "%ssvc-%s-%d", ts_docker_prefix(), what, ++n);
    return buf;
}

int ts_swarm_service_create(char *id, size_t len, const char *name, ...)
{
    const char *argv[MAX_ARGS];
    size_t n = 0;
    va_list ap;

    argv[n++] = "service";
    argv[n++] = "create";
    argv[n++] = "-d";
    argv[n++] = "--no-resolve-image";
    argv[n++] = "--name";
    argv[n++] = name;
    argv[n++] = "--label";
    argv[n++] = "trip.test=1";
    argv[n++] = "--container-label";
    argv[n++] = "trip.test=1";
    argv[n++] = "--label"; /* this run's receivers (--selector) manage only this run's services */
    argv[n++] = ts_docker_run_label();
    argv[n++] = "--container-label";
    argv[n++] = ts_docker_run_label();
    va_start(ap, name);
    for (const char *a = va_arg(ap, const char *); a && n < MAX_ARGS - 2;
         a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n++] = ts_test_image();
    argv[n] = NULL;
    return ts_docker_argv(id, len, NULL, 0, argv);
}

/* Waits (at most 30 s) until the task containers of this process's services are gone, so that
 * ts_docker_cleanup() does not race the swarm removing them. */
static void wait_tasks_gone(void)
{
    char filter[128];
    char ids[4096];

    snprintf(filter, sizeof(filter), "name=^/%ssvc-", ts_docker_prefix());
    for (int i = 0; i < 300; i++) {
        if (ts_docker(ids, sizeof(ids), "ps", "-aq", "--filter", filter, NULL) != 0 || !ids[0])
            return;
        usleep(100 * 1000);
    }
}

void ts_swarm_cleanup(void)
{
    char names[8192];
    const char *argv[MAX_ARGS];
    size_t n = 0;
    size_t plen = strlen(ts_docker_prefix());
    char *save = NULL;

    if (ts_docker(names, sizeof(names), "service", "ls", "--filter", "label=trip.test=1",
                  "--format", "{{.Name}}", NULL) != 0)
        return;
    argv[n++] = "service";
    argv[n++] = "rm";
    for (char *tok = strtok_r(names, "\n", &save); tok && n < MAX_ARGS - 1;
         tok = strtok_r(NULL, "\n", &save)) {
        if (strncmp(tok, ts_docker_prefix(), plen) == 0)
            argv[n++] = tok;
    }
    argv[n] = NULL;
    if (n > 2)
        ts_docker_argv(NULL, 0, NULL, 0, argv);
    wait_tasks_gone();
}

int64_t ts_swarm_wait_running(struct docker_client *c, const char *id, int want, int timeout_ms)
{
    int64_t t0 = ts_now_ns() / 1000000, waited = 0;
    struct docker_service_tasks t = {0};
    struct docker_err err = {0};

    while (waited <= timeout_ms) {
        memset(&err, 0, sizeof(err));
        if (docker_service_tasks(c, id, &t, &err) == DOCKER_OK && t.desired == want &&
            t.running == want)
            return waited;
        usleep(100 * 1000);
        waited = ts_now_ns() / 1000000 - t0;
    }
    fprintf(stderr, "tasks of %s: %d desired, %d running after %d ms (want %d)%s%s\n", id,
            t.desired, t.running, timeout_ms, want, err.msg[0] ? ": " : "", err.msg);
    return -1;
}
