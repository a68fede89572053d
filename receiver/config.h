/* config.h: trip-receiver's settings from defaults, TRIP_* environment variables and flags. */
#ifndef TRIP_CONFIG_H
#define TRIP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_LABELS 8
#define CONFIG_MAX_SELECTOR 8     /* terms of --selector */
#define CONFIG_SELECTOR_PART 128  /* a selector key or value, with its NUL (Docker's cache: 127) */
#define CONFIG_STR_MAX 256
#define CONFIG_PATH_MAX 1024

typedef enum config_code {
    CONFIG_OK = 0,
    CONFIG_HELP,      /* --help was given: print config_usage() and exit 0 */
    CONFIG_VERSION,   /* --version was given */
    CONFIG_E_INVALID, /* unknown flag, missing or malformed value, value out of bounds */
    CONFIG_E_IO,      /* a --*-file could not be read */
} config_code;

struct config_err {
    config_code code;
    char msg[256];
};

struct config {
    char listen_host[CONFIG_STR_MAX]; /* from --listen HOST:PORT */
    uint16_t listen_port;
    bool listen_set; /* --listen or TRIP_LISTEN given (else loopback under --insecure-no-auth) */
    char state_dir[CONFIG_PATH_MAX];
    int64_t scale_duration_ms;
    int64_t max_hold_ms;
    int64_t min_duration_ms;
    int64_t max_duration_ms;
    int64_t cpu_shares;     /* scaled-out CpuShares */
    int64_t memory;         /* scaled-out memory limit, bytes */
    int64_t max_cpu_shares; /* bound for labels and requests */
    int64_t max_memory;
    int64_t max_nano_cpus; /* largest trip.cpus of a Swarm service (1e9 = one CPU) */
    int64_t max_replicas;  /* default and bound of trip.max-replicas */
    int64_t replicas_step; /* default of trip.replicas-step */
    char container_labels[CONFIG_MAX_LABELS][64]; /* alert labels naming the container, in order */
    size_t n_container_labels;
    char cpu_alert[128]; /* alertname -> action fallback when no `action` label */
    char memory_alert[128];
    char down_alert[128];
    bool manage_all;
    bool heal;
    bool heal_events;         /* watch Docker events and heal at once */
    bool heal_operator_stops; /* also heal what an operator stopped (label overrides) */
    int64_t heal_backoff_ms;  /* delay before the 2nd heal of a streak, doubling */
    int64_t heal_backoff_max_ms;
    int64_t heal_stable_ms;                 /* running this long resets the streak */
    int64_t crashloop_heals;                /* heals in one streak that flag crash-looping */
    /* --selector terms, "key" or "key=value", all of which a container or service must carry to
     * be managed at all (webhooks, manual API, healing, reconcile, the cache). n_selector 0: every
     * container of the host. */
    char selector[CONFIG_MAX_SELECTOR][2 * CONFIG_SELECTOR_PART];
    size_t n_selector;
    bool selector_flag;       /* a --selector flag was given: TRIP_SELECTOR's terms were dropped */
    /* "" or "key" / "key=value": event healing only, further limited to this label (inside the
     * selector; e.g. a benchmark heals some of its containers from events, others by API) */
    char heal_label_filter[2 * CONFIG_SELECTOR_PART];
    bool dry_run;
    char token[CONFIG_STR_MAX];
    char basic_user[128];
    char basic_password[CONFIG_STR_MAX];
    bool insecure_no_auth;  /* start without token or basic auth (refused otherwise) */
    bool secret_on_cmdline; /* --token or --basic-auth-password given as a flag (shows in ps) */
    char privsep_user[64];  /* the HTTP process's user when it may change (privsep.c) */
    char user[64];          /* the privileged process's user after the fork, "" keeps it */
    int64_t max_body;
    int64_t max_connections;
    int64_t connection_timeout_ms;
    int64_t http_threads;
    int64_t workers;
    int64_t request_timeout_ms;  /* bound on a manual API call waiting for the engine */
    int64_t shutdown_timeout_ms; /* bound on finishing in-flight actions at SIGTERM */
    int64_t refresh_interval_ms; /* container cache and readiness refresh */
    char docker_host[CONFIG_STR_MAX];
    char docker_api_version[16]; /* pinned Docker API version; "": $DOCKER_API_VERSION, negotiate */
    int64_t docker_timeout_ms;
    char prometheus_url[CONFIG_STR_MAX];
    char log_level[16];
};

/* Fills *cfg with the built-in defaults. Cannot fail. */
void config_defaults(struct config *cfg);

/*
 * Builds *cfg from defaults, then the environment (envp, a NULL-terminated "K=V" array such as
 * environ; NULL: none), then argv (flags win). Flags take `--flag VALUE` or `--flag=VALUE`; boolean
 * flags also stand alone. --token-file / --basic-auth-password-file are read here, whole, white
 * space trimmed; an empty, blank, multi-line or too long file is CONFIG_E_INVALID (never cut or
 * silently dropped). Without a token or basic auth the result is CONFIG_E_INVALID unless
 * --insecure-no-auth, which makes the default listen address 127.0.0.1. Returns CONFIG_HELP /
 * CONFIG_VERSION when asked, CONFIG_E_* with a message naming the flag or variable otherwise. Not
 * thread-safe only in that it reads files.
 */
config_code config_parse(struct config *cfg, int argc, char *const *argv, char *const *envp,
                         struct config_err *err);

/* Writes the --help text (every flag, its variable and default) to f. */
void config_usage(FILE *f, const char *prog);

/* Parses "500ms", "20s", "5m", "1h", "1h30m", "2d" (a bare number is seconds) into milliseconds.
 * Returns 0 on success, -1 on malformed, negative or overflowing input. Pure. */
int config_duration_parse(const char *s, int64_t *ms);

/* Parses a byte size: "2g", "512m", "64k", "1073741824", suffix b/k/m/g/t (also kb, mib, ...),
 * case-insensitive, binary multiples. Returns 0 on success, -1 otherwise. Pure. */
int config_size_parse(const char *s, int64_t *bytes);

/* Formats ms as "5m", "1h30m", "2s", "1s500ms", "278h10ms" (hours, then minutes, seconds and
 * milliseconds when not zero; "0s" for 0) into buf, a form config_duration_parse() reads back.
 * Returns buf. Pure. */
const char *config_duration_format(char *buf, size_t size, int64_t ms);

/* Parses a number of CPUs, "2", "1.5", "0.25" (up to 9 decimals, at most 1000000), into
 * NanoCPUs (1e9 per CPU). Returns 0 on success, -1 otherwise. Pure. */
int config_cpus_parse(const char *s, int64_t *nano);

/* Copies url into buf with any user:password@ replaced by ***@ (for logs). Returns buf. Pure. */
const char *config_redact_url(char *buf, size_t size, const char *url);

/* Splits one selector term, "key" or "key=value", into key and value (value "" and *has_value
 * false for "key"). The key: 1..127 bytes of [A-Za-z0-9._/-], starting with a letter or digit;
 * the value: at most 127 bytes, printable ASCII without ',' (the list separator) nor control
 * bytes. Returns 0, or -1 with why (size >= 96) saying what is wrong. Pure. */
int config_selector_split(const char *term, char key[CONFIG_SELECTOR_PART],
                          char value[CONFIG_SELECTOR_PART], bool *has_value, char *why,
                          size_t size);

/* Parses "true/false/1/0/yes/no/on/off". Returns 0/1 into *out, -1 if unrecognised. Pure. */
int config_bool_parse(const char *s, bool *out);

#endif
