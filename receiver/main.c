/* main.c: trip-receiver start-up, signals and orderly shutdown. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions.h"
#include "broker.h"
#include "config.h"
#include "docker_client.h"
#include "engine.h"
#include "events.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "privsep.h"
#include "store.h"

#ifndef TRIP_VERSION
#define TRIP_VERSION "dev"
#endif

extern char **environ;

/* Blocks SIGTERM/SIGINT/SIGHUP in every thread (threads inherit the mask) and waits for one. */
/* Writes a state save that failed earlier (disk full, read-only state dir) again; logs the first
 * failure of a streak and the recovery, so a full disk does not log once a second. */
static void retry_state_save(struct store *st, bool *failing)
{
    struct store_err serr = {0};
    bool retried = false;

    if (store_retry(st, &retried, &serr) != STORE_OK) {
        if (!*failing)
            log_warn("state save still failing; retrying every second", "error=%s", serr.msg);
        *failing = true;
    } else if (retried) {
        log_info("state saved after an earlier failure", "path=%s", store_path(st));
        *failing = false;
    }
}

/* Writes the action history when it changed; logs the first failure of a streak. */
static void flush_history(struct actions *acts, bool *failing)
{
    struct actions_err aerr = {0};

    if (actions_flush(acts, &aerr) != ACTIONS_OK) {
        if (!*failing)
            log_warn("action history not saved; retrying every second", "error=%s", aerr.msg);
        *failing = true;
    } else {
        *failing = false;
    }
}

/* Waits for SIGTERM or SIGINT, or the HTTP process's end (returns SIGCHLD, *status set);
 * meanwhile retries a failed state save and writes the action history once a second. */
static int wait_for_signal(const sigset_t *set, struct store *st, struct actions *acts, pid_t child,
                           int *status)
{
    const struct timespec tick = {1, 0};
    bool failing = false, history_failing = false;
    int sig;

    for (;;) {
        sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGCHLD || sig < 0) {
            if (waitpid(child, status, WNOHANG) == child)
                return SIGCHLD;
            if (sig == SIGCHLD)
                continue;
        }
        if (sig > 0)
            return sig;
        retry_state_save(st, &failing);
        flush_history(acts, &history_failing);
    }
}

/* The HTTP process ended on its own: why, in words. */
static void describe_exit(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGSYS ? " (SIGSYS: a system call outside its seccomp filter)"
                                            : "");
    else
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
}

/* The start-up line naming the engine, its version and the API in use; an error when the engine
 * refuses this client's API version, a warning for what the engine cannot do. */
static void log_engine(struct docker_client *dc)
{
    struct docker_version v;
    struct docker_engine e;
    char name[96], msg[600], what[400];

    docker_version(dc, &v, NULL); /* a pinned client learns its engine from this call */
    docker_client_engine(dc, &e);
    log_quote(name, sizeof(name), e.name[0] ? e.name : "unknown");
    if (e.code == DOCKER_E_API_VERSION)
        log_error("docker engine refuses this client's API version; not ready until it accepts",
                  "engine=%s engine_version=%s api_range=%s..%s error=%s", name, e.version,
                  e.api_min, e.api_max, log_quote(msg, sizeof(msg), e.message));
    else if (e.version[0])
        log_info("docker engine", "engine=%s engine_version=%s api=%s api_range=%s..%s pinned=%s",
                 name, e.version, e.api, e.api_min, e.api_max, e.pinned ? "true" : "false");
    if (docker_engine_unsupported(&e)[0])
        log_warn("docker engine cannot do everything the receiver asks of it",
                 "engine=%s unsupported=%s", name,
                 log_quote(what, sizeof(what), docker_engine_unsupported(&e)));
}

/* Says loudly what --insecure-no-auth and secrets on the command line expose. */
static void warn_auth(const struct config *cfg)
{
    bool none = !cfg->token[0] && !cfg->basic_user[0];

    if (none)
        log_warn("AUTHENTICATION IS OFF (--insecure-no-auth): anyone who reaches this address can "
                 "scale, restart and start managed containers",
                 "address=%s", cfg->listen_host);
    else if (cfg->insecure_no_auth)
        log_warn("--insecure-no-auth ignored: authentication is configured", "auth=%s",
                 cfg->token[0] ? "bearer" : "basic");
    if (cfg->secret_on_cmdline)
        log_warn("a secret given on the command line shows in ps and /proc/PID/cmdline; prefer "
                 "--token-file, --basic-auth-password-file or the environment",
                 "flag=%s", cfg->token[0] ? "--token" : "--basic-auth-password");
}

static int run(const struct config *cfg)
{
    struct docker_opts dopts = {.host = cfg->docker_host[0] ? cfg->docker_host : NULL,
                                .api_version =
                                    cfg->docker_api_version[0] ? cfg->docker_api_version : NULL,
                                .timeout_ms = (long)cfg->docker_timeout_ms};
    struct docker_client *dc = NULL;
    struct docker_err derr = {0};
    struct store_err serr = {0};
    struct actions *acts = NULL;
    struct actions_err aerr = {0};
    struct engine_err eerr = {0};
    struct http_err herr = {0};
    struct engine *e = NULL;
    struct events *ev = NULL;
    struct events_err everr = {0};
    struct broker *b = NULL;
    struct privsep_user pu;
    struct privsep_parent pp;
    char perr[256];
    int rc = 1, listen_fd = -1, ipc_fd = -1, child_status = 0;
    uint16_t port = 0;
    pid_t child;
    sigset_t set;
    const char *labels[CONFIG_MAX_LABELS];

    for (size_t i = 0; i < cfg->n_container_labels; i++)
        labels[i] = cfg->container_labels[i];

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Privilege separation: the HTTP process is forked first, before any Docker connection,
     * thread or file exists (privsep.h). */
    if (privsep_prepare(cfg, &pu, perr, sizeof(perr)) != 0 ||
        privsep_parent_prepare(cfg, &pp, perr, sizeof(perr)) != 0) {
        log_error("cannot separate privileges", "error=%s", perr);
        return 2;
    }
    if (http_listen(cfg, &listen_fd, &port, &herr) != HTTP_OK) {
        log_error("cannot start HTTP server", "error=%s", herr.msg);
        return 1;
    }
    child = privsep_fork(cfg, &pu, listen_fd, &ipc_fd, perr, sizeof(perr));
    if (child < 0) {
        log_error("cannot start the HTTP process", "error=%s", perr);
        close(listen_fd);
        return 1;
    }
    /* this process: --user when given, then no capability at all */
    if (privsep_drop_parent(&pp, perr, sizeof(perr)) != 0) {
        log_error("cannot drop the privileged process's privileges", "error=%s", perr);
        close(ipc_fd); /* the HTTP process, still waiting for IPC_START, exits */
        privsep_reap(child, 5000);
        return 2;
    }
    /* no process of the same user (the HTTP process when it could not change users) may ptrace
     * this one or open its descriptors through /proc (after the identity change, which resets it) */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    log_info("privilege separation",
             "http_pid=%d http_user=%s http_uid=%u sandbox=%s uid=%u gid=%u docker_gid=%d caps=none",
             (int)child, pu.change ? pu.name : "-", (unsigned)(pu.change ? pu.uid : getuid()),
             pu.change ? "user,no_caps,no_new_privs,seccomp" : "no_caps,no_new_privs,seccomp",
             (unsigned)getuid(), (unsigned)getgid(),
             pp.docker_gid == (gid_t)-1 ? -1 : (int)pp.docker_gid);

    docker_code dcode = docker_client_new(&dopts, &dc, &derr);
    if (!dc) {
        log_error("cannot create the docker client", "error=%s", derr.msg);
        close(ipc_fd); /* the HTTP process, still waiting for IPC_START, exits */
        privsep_reap(child, 5000);
        return 1;
    }
    if (dcode != DOCKER_OK && dcode != DOCKER_E_API_VERSION)
        log_warn("docker not reachable yet; will retry", "error=%s", derr.msg);
    log_engine(dc);
    struct metrics *m = metrics_new();
    struct store *st = store_new(cfg->state_dir, &serr);
    if (!st || !m) {
        log_error("cannot open the state directory", "error=%s",
                  serr.msg[0] ? serr.msg : "out of memory");
        goto out_free;
    }
    acts = actions_new(cfg->state_dir, &aerr);
    if (!acts) {
        log_error("cannot keep the action history", "error=%s", aerr.msg);
        goto out_free;
    }
    if (aerr.code != ACTIONS_OK)
        log_warn("action history not read; starting an empty one", "error=%s", aerr.msg);
    struct engine_opts eo = {
        .max_hold_ms = cfg->max_hold_ms,
        .workers = (size_t)cfg->workers,
        .dry_run = cfg->dry_run,
        .refresh_interval_ms = cfg->refresh_interval_ms,
        .docker_ud = dc,
        .store = st,
        .metrics = m,
        .prom_url = cfg->prometheus_url,
        .prom_timeout_ms = 3000,
        .container_labels = labels,
        .n_container_labels = cfg->n_container_labels,
        .alertname = {[POLICY_CPU] = cfg->cpu_alert, [POLICY_MEMORY] = cfg->memory_alert},
        .actions = acts};
    policy_limits_from_config(&eo.lim, cfg);
    eo.heal =
        (struct policy_backoff){cfg->heal_backoff_ms, cfg->heal_backoff_max_ms, cfg->heal_stable_ms,
                                (int)cfg->crashloop_heals, cfg->heal_operator_stops};
    if (engine_new(&eo, &e, &eerr) != ENGINE_OK || engine_load(e, &eerr) != ENGINE_OK) {
        log_error("cannot load state; not starting rather than forgetting scaled-out containers",
                  "error=%s check=\"the file named in the error: disk, permissions, an edit by "
                  "hand\" move_aside=\"mv %s %s.bad lets it start and changes nothing in Docker, "
                  "but it forgets what it scaled out: restore those containers by hand (docker "
                  "update) to the baselines in the moved file\"",
                  eerr.msg, store_path(st), store_path(st));
        goto out_free;
    }
    engine_refresh(e);
    if (engine_start(e, &eerr) != ENGINE_OK) {
        log_error("cannot start the engine", "error=%s", eerr.msg);
        goto out_free;
    }
    if (cfg->heal_events) {
        struct events_opts evo = {.docker = dc,
                                  .engine = e,
                                  .metrics = m,
                                  .lim = eo.lim,
                                  .label_filter = cfg->heal_label_filter};
        if (events_new(&evo, &ev, &everr) != EVENTS_OK || events_start(ev, &everr) != EVENTS_OK) {
            log_error("cannot start the events watcher", "error=%s", everr.msg);
            goto out_free;
        }
    }
    b = broker_start(cfg, e, m, ipc_fd);
    if (!b) {
        log_error("cannot start the HTTP process's broker", "error=\"out of memory or threads\"");
        goto out_free;
    }
    ipc_fd = -1; /* the broker's */
    char prom[CONFIG_STR_MAX], sel[CONFIG_MAX_SELECTOR * 2 * CONFIG_SELECTOR_PART], qs[sizeof(sel)];
    config_redact_url(prom, sizeof(prom), cfg->prometheus_url[0] ? cfg->prometheus_url : "-");
    policy_selector_text(&eo.lim, sel, sizeof(sel));
    if (!sel[0])
        log_warn("no --selector: every trip.enable container of the host is managed",
                 "hint=\"give --selector LABEL[=VALUE] when other stacks share this host\"");
    log_info(
        "listening",
        "address=%s port=%u version=%s dry_run=%s manage_all=%s auth=%s state=%s prometheus=%s "
        "heal_events=%s selector=%s",
        cfg->listen_host, port, TRIP_VERSION, cfg->dry_run ? "true" : "false",
        cfg->manage_all ? "true" : "false",
        cfg->token[0] && cfg->basic_user[0] ? "bearer+basic"
        : cfg->token[0]                     ? "bearer"
        : cfg->basic_user[0]                ? "basic"
                                            : "none",
        store_path(st), prom, cfg->heal_events ? "true" : "false",
        sel[0] ? log_quote(qs, sizeof(qs), sel) : "-");
    warn_auth(cfg);
    int sig = wait_for_signal(&set, st, acts, child, &child_status);
    if (sig == SIGCHLD) {
        char why[128];
        describe_exit(child_status, why, sizeof(why));
        log_error("the HTTP process ended; stopping so that the service manager restarts both",
                  "http_pid=%d reason=%s", (int)child, why);
        child = -1;
    } else {
        log_info("shutting down", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    broker_quiesce(b);
    events_stop(ev);
    engine_stop(e, cfg->shutdown_timeout_ms);
    bool history_failing = false;
    flush_history(acts, &history_failing);
    rc = sig == SIGCHLD ? 1 : 0;
out_free:
    broker_stop(b); /* after engine_stop: every manual job's reply went out */
    if (ipc_fd >= 0)
        close(ipc_fd); /* the HTTP process, still waiting for IPC_START, exits */
    if (child > 0)
        privsep_reap(child, 5000);
    broker_free(b);
    events_free(ev);
    engine_free(e);
    actions_free(acts);
    store_free(st);
    metrics_free(m);
    docker_client_free(dc);
    if (rc == 0)
        log_info("stopped", "exit_code=0");
    return rc;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct config_err err = {0};

    /* One malloc arena for every thread: glibc otherwise gives each thread that allocates its
     * own (up to 8 per core), and each keeps its own idle pages. The threads here mostly wait;
     * the allocations that matter are the HTTP threads', and they are short. */
#ifdef M_ARENA_MAX /* glibc; musl (the static build) has one allocator for all threads */
    mallopt(M_ARENA_MAX, 1);
#endif
    switch (config_parse(&cfg, argc, argv, environ, &err)) {
    case CONFIG_OK:
        break;
    case CONFIG_HELP:
        config_usage(stdout, "trip-receiver");
        return 0;
    case CONFIG_VERSION:
        printf("trip-receiver %s\n", TRIP_VERSION);
        return 0;
    default:
        fprintf(stderr, "trip-receiver: %s\n", err.msg);
        return 2;
    }
    int level = log_level_parse(cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "trip-receiver: --log-level: unknown level \"%s\"\n", cfg.log_level);
        return 2;
    }
    log_set_level((enum log_level)level);
    return run(&cfg);
}
