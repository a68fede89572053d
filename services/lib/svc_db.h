/* svc_db.h: a bounded MariaDB connection pool and prepared-statement execution (Connector/C). */
#ifndef SVC_DB_H
#define SVC_DB_H

#include <stdbool.h>
#include <stddef.h>

enum svc_db_status {
    SVC_DB_OK,
    SVC_DB_DUPLICATE,   /* a unique key refused the row (ER_DUP_ENTRY) */
    SVC_DB_UNAVAILABLE, /* no connection: server down, restarting, or pool exhausted */
    SVC_DB_ERROR,       /* any other server or client error */
};

struct svc_db_err {
    enum svc_db_status code;
    unsigned errnum; /* the server's or client's error number, 0 when none */
    char msg[256];
};

enum svc_db_type { SVC_DB_NULL, SVC_DB_INT, SVC_DB_DOUBLE, SVC_DB_TEXT };

/* A statement parameter. TEXT borrows s (len bytes, no NUL needed). */
struct svc_db_val {
    enum svc_db_type type;
    long long i;
    double d;
    const char *s;
    size_t len;
};

/* A result column. TEXT is written into the caller's buf (cap bytes, NUL-terminated, truncated to
 * cap - 1); null is set for SQL NULL. */
struct svc_db_col {
    enum svc_db_type type;
    long long i;
    double d;
    char *buf;
    size_t cap;
    unsigned long len;
    bool null;
};

struct svc_db_result {
    unsigned long long affected; /* rows changed by INSERT/UPDATE/DELETE */
    unsigned long long insert_id;
    unsigned long long rows; /* rows fetched */
};

/* Called once per fetched row with the columns filled in; borrowed for the call only. */
typedef void (*svc_db_row_fn)(void *arg, const struct svc_db_col *cols);

struct svc_db_target {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *db;
};

struct svc_db_stats {
    int size, open, in_use, waiting;
    unsigned long long query_errors, connect_errors, acquire_timeouts;
};

struct svc_db_pool;
struct svc_db_conn;

/* Makes a pool of at most `size` connections to t (strings copied), opened lazily. Call
 * mysql_library_init first (svc_db_global_init). NULL when out of memory. */
struct svc_db_pool *svc_db_pool_new(const struct svc_db_target *t, int size);
/* Closes every connection; none may be held. NULL is a no-op. */
void svc_db_pool_free(struct svc_db_pool *p);
/* Calls mysql_library_init once; before any thread starts. */
void svc_db_global_init(void);
/* Releases the client library's memory; after every pool is freed. */
void svc_db_global_end(void);

/*
 * Takes a connection for this thread, waiting at most timeout_ms for a free one, opening or
 * re-opening it when it is new, broken, or idle long enough that the server may have dropped it
 * (a ping). Returns NULL with err->code SVC_DB_UNAVAILABLE when none can be had. Any thread.
 */
struct svc_db_conn *svc_db_acquire(struct svc_db_pool *p, int timeout_ms, struct svc_db_err *err);
/* Gives c back (rolls back an open transaction; closes it when broken). NULL is a no-op. */
void svc_db_release(struct svc_db_conn *c);
/* Copies out the pool's gauges and counters. Any thread. */
void svc_db_stats(struct svc_db_pool *p, struct svc_db_stats *out);

/*
 * Runs `sql` (a string literal: prepared once per connection and cached by its address) with the
 * np parameters, calling row(arg, cols) for each row of a result with nc columns. out (optional)
 * gets the counts. A lost connection is marked broken (re-opened at its next acquire) and reported
 * as SVC_DB_UNAVAILABLE. The first error wins in err.
 */
enum svc_db_status svc_db_exec(struct svc_db_conn *c, const char *sql,
                               const struct svc_db_val *params, size_t np, struct svc_db_col *cols,
                               size_t nc, svc_db_row_fn row, void *arg, struct svc_db_result *out,
                               struct svc_db_err *err);

/* Transactions on c: begin turns autocommit off; commit/rollback end it (autocommit back on). */
enum svc_db_status svc_db_begin(struct svc_db_conn *c, struct svc_db_err *err);
enum svc_db_status svc_db_commit(struct svc_db_conn *c, struct svc_db_err *err);
void svc_db_rollback(struct svc_db_conn *c);

/* Parameter shorthands. */
struct svc_db_val svc_db_int(long long i);
struct svc_db_val svc_db_double(double d);
struct svc_db_val svc_db_text(const char *s); /* s NUL-terminated */

#endif
