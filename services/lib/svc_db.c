/* svc_db.c: the connection pool and prepared statements.
 *
 * DESIGN: any HTTP thread calls acquire/exec/release. The pool mutex guards every slot's in_use
 * flag, `waiting` and the counters; a slot's MYSQL handle and statement cache belong to the thread
 * that holds the slot (in_use), so they are used without the lock. Connecting happens outside the
 * lock, on the slot the thread already holds.
 */
#include "svc_db.h"

#include <errno.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define STMT_CACHE 48
#define MAX_BIND 24
#define IDLE_PING_S 5

struct stmt_slot {
    const char *sql;
    MYSQL_STMT *st;
};

struct svc_db_conn {
    struct svc_db_pool *pool;
    MYSQL *my;
    bool in_use;
    bool broken;
    bool in_tx;
    time_t last_used;
    struct stmt_slot stmts[STMT_CACHE];
};

struct svc_db_pool {
    char host[256], user[64], password[256], db[64];
    int port;
    int size;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiting;
    unsigned long long query_errors, connect_errors, acquire_timeouts;
    struct svc_db_conn conns[];
};

static void set_err(struct svc_db_err *err, enum svc_db_status code, unsigned errnum,
                    const char *what, const char *why)
{
    if (!err || err->code != SVC_DB_OK)
        return;
    err->code = code;
    err->errnum = errnum;
    snprintf(err->msg, sizeof(err->msg), "%s: %s", what, why);
}

void svc_db_global_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

void svc_db_global_end(void)
{
    mysql_library_end();
}

struct svc_db_pool *svc_db_pool_new(const struct svc_db_target *t, int size)
{
    struct svc_db_pool *p = calloc(1, sizeof(*p) + (size_t)size * sizeof(struct svc_db_conn));
    if (!p)
        return NULL;
    snprintf(p->host, sizeof(p->host), "%s", t->host);
    snprintf(p->user, sizeof(p->user), "%s", t->user);
    snprintf(p->password, sizeof(p->password), "%s", t->password ? t->password : "");
    snprintf(p->db, sizeof(p->db), "%s", t->db);
    p->port = t->port;
    p->size = size;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < size; i++)
        p->conns[i].pool = p;
    return p;
}

static void close_conn(struct svc_db_conn *c)
{
    for (int i = 0; i < STMT_CACHE; i++) {
        if (c->stmts[i].st)
            mysql_stmt_close(c->stmts[i].st);
        c->stmts[i].st = NULL;
        c->stmts[i].sql = NULL;
    }
    if (c->my)
        mysql_close(c->my);
    c->my = NULL;
    c->broken = false;
    c->in_tx = false;
}

void svc_db_pool_free(struct svc_db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++)
        close_conn(&p->conns[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static void count(struct svc_db_pool *p, unsigned long long *counter)
{
    pthread_mutex_lock(&p->mu);
    (*counter)++;
    pthread_mutex_unlock(&p->mu);
}

static bool open_conn(struct svc_db_conn *c, struct svc_db_err *err)
{
    struct svc_db_pool *p = c->pool;
    unsigned connect_timeout = 2;
    unsigned io_timeout = 10;
    my_bool no = 0;

    close_conn(c);
    c->my = mysql_init(NULL);
    if (!c->my) {
        set_err(err, SVC_DB_UNAVAILABLE, 0, "mysql_init", "out of memory");
        return false;
    }
    mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(c->my, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(c->my, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(c->my, MYSQL_OPT_RECONNECT, &no);
    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c->my, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (!mysql_real_connect(c->my, p->host, p->user, p->password, p->db, (unsigned)p->port, NULL,
                            0)) {
        set_err(err, SVC_DB_UNAVAILABLE, mysql_errno(c->my), "connect", mysql_error(c->my));
        count(p, &p->connect_errors);
        mysql_close(c->my);
        c->my = NULL;
        return false;
    }
    return true;
}

static struct svc_db_conn *take_slot(struct svc_db_pool *p, int timeout_ms)
{
    struct timespec until;
    struct svc_db_conn *c = NULL;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* prefer an open connection, else any free slot */
        for (int i = 0; i < p->size && !c; i++) {
            if (!p->conns[i].in_use && p->conns[i].my)
                c = &p->conns[i];
        }
        for (int i = 0; i < p->size && !c; i++) {
            if (!p->conns[i].in_use)
                c = &p->conns[i];
        }
        if (c)
            break;
        p->waiting++;
        int rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
        p->waiting--;
        if (rc == ETIMEDOUT) {
            p->acquire_timeouts++;
            break;
        }
    }
    if (c)
        c->in_use = true;
    pthread_mutex_unlock(&p->mu);
    return c;
}

/* True when an idle connection has something to read: nothing may arrive on it unasked, so it is
 * the server's goodbye (it restarted, killed the connection or timed it out). Costs no round
 * trip, unlike a ping. */
static bool server_closed(MYSQL *my)
{
    struct pollfd p = {.fd = (int)mysql_get_socket(my), .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

struct svc_db_conn *svc_db_acquire(struct svc_db_pool *p, int timeout_ms, struct svc_db_err *err)
{
    struct svc_db_conn *c = take_slot(p, timeout_ms);

    if (!c) {
        set_err(err, SVC_DB_UNAVAILABLE, 0, "pool", "every connection is busy");
        return NULL;
    }
    if (c->my && !c->broken &&
        (server_closed(c->my) ||
         (time(NULL) - c->last_used >= IDLE_PING_S && mysql_ping(c->my) != 0)))
        c->broken = true;
    if ((!c->my || c->broken) && !open_conn(c, err)) {
        svc_db_release(c);
        return NULL;
    }
    return c;
}

void svc_db_release(struct svc_db_conn *c)
{
    if (!c)
        return;
    struct svc_db_pool *p = c->pool;
    if (c->in_tx && !c->broken)
        svc_db_rollback(c);
    if (c->broken)
        close_conn(c);
    c->last_used = time(NULL);
    pthread_mutex_lock(&p->mu);
    c->in_use = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void svc_db_stats(struct svc_db_pool *p, struct svc_db_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    out->size = p->size;
    for (int i = 0; i < p->size; i++) {
        out->open += p->conns[i].my != NULL;
        out->in_use += p->conns[i].in_use;
    }
    out->waiting = p->waiting;
    out->query_errors = p->query_errors;
    out->connect_errors = p->connect_errors;
    out->acquire_timeouts = p->acquire_timeouts;
    pthread_mutex_unlock(&p->mu);
}

static bool connection_lost(unsigned e)
{
    return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
           e == CR_CONN_HOST_ERROR || e == CR_SERVER_LOST_EXTENDED || e == ER_CONNECTION_KILLED ||
           e == ER_SERVER_SHUTDOWN || e == CR_COMMANDS_OUT_OF_SYNC;
}

/* Classifies errnum into err and marks c broken when the connection is gone. Every failure but
 * a duplicate key (an answer, not an error) counts as a query error. */
static enum svc_db_status fail(struct svc_db_conn *c, unsigned errnum, const char *what,
                               const char *why, struct svc_db_err *err)
{
    enum svc_db_status code = SVC_DB_ERROR;

    if (errnum == ER_DUP_ENTRY) {
        code = SVC_DB_DUPLICATE;
    } else if (connection_lost(errnum)) {
        code = SVC_DB_UNAVAILABLE;
        c->broken = true;
    }
    if (code != SVC_DB_DUPLICATE)
        count(c->pool, &c->pool->query_errors);
    set_err(err, code, errnum, what, why);
    return code;
}

static MYSQL_STMT *prepared(struct svc_db_conn *c, const char *sql, struct svc_db_err *err,
                            enum svc_db_status *st)
{
    int free_slot = -1;

    for (int i = 0; i < STMT_CACHE; i++) {
        if (c->stmts[i].sql == sql)
            return c->stmts[i].st;
        if (!c->stmts[i].sql && free_slot < 0)
            free_slot = i;
    }
    MYSQL_STMT *s = mysql_stmt_init(c->my);
    if (!s) {
        *st = fail(c, mysql_errno(c->my), "prepare", "out of memory", err);
        return NULL;
    }
    if (mysql_stmt_prepare(s, sql, strlen(sql)) != 0) {
        *st = fail(c, mysql_stmt_errno(s), "prepare", mysql_stmt_error(s), err);
        mysql_stmt_close(s);
        return NULL;
    }
    if (free_slot >= 0) {
        c->stmts[free_slot].sql = sql;
        c->stmts[free_slot].st = s;
    }
    return s;
}

static void bind_params(MYSQL_BIND *b, const struct svc_db_val *v, size_t n)
{
    static const enum enum_field_types types[] = {[SVC_DB_NULL] = MYSQL_TYPE_NULL,
                                                  [SVC_DB_INT] = MYSQL_TYPE_LONGLONG,
                                                  [SVC_DB_DOUBLE] = MYSQL_TYPE_DOUBLE,
                                                  [SVC_DB_TEXT] = MYSQL_TYPE_STRING};

    memset(b, 0, n * sizeof(*b));
    for (size_t i = 0; i < n; i++) {
        b[i].buffer_type = types[v[i].type];
        if (v[i].type == SVC_DB_INT)
            b[i].buffer = (void *)(uintptr_t)&v[i].i; /* input: never written */
        else if (v[i].type == SVC_DB_DOUBLE)
            b[i].buffer = (void *)(uintptr_t)&v[i].d;
        else if (v[i].type == SVC_DB_TEXT)
            b[i].buffer = (void *)(uintptr_t)v[i].s;
        b[i].buffer_length = v[i].type == SVC_DB_TEXT ? (unsigned long)v[i].len : 0;
    }
}

static void bind_cols(MYSQL_BIND *b, my_bool *nulls, struct svc_db_col *cols, size_t n)
{
    memset(b, 0, n * sizeof(*b));
    for (size_t i = 0; i < n; i++) {
        b[i].is_null = &nulls[i];
        if (cols[i].type == SVC_DB_INT) {
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = &cols[i].i;
        } else if (cols[i].type == SVC_DB_DOUBLE) {
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = &cols[i].d;
        } else {
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = cols[i].buf;
            b[i].buffer_length = cols[i].cap > 0 ? (unsigned long)cols[i].cap - 1 : 0;
            b[i].length = &cols[i].len;
        }
    }
}

static enum svc_db_status fetch_rows(struct svc_db_conn *c, MYSQL_STMT *s, struct svc_db_col *cols,
                                     size_t nc, svc_db_row_fn row, void *arg,
                                     struct svc_db_result *out, struct svc_db_err *err)
{
    MYSQL_BIND b[MAX_BIND];
    my_bool nulls[MAX_BIND];
    int rc;

    bind_cols(b, nulls, cols, nc);
    if (mysql_stmt_bind_result(s, b) != 0)
        return fail(c, mysql_stmt_errno(s), "bind result", mysql_stmt_error(s), err);
    while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        for (size_t i = 0; i < nc; i++) {
            cols[i].null = nulls[i];
            if (cols[i].type == SVC_DB_TEXT && cols[i].cap > 0) {
                if (cols[i].len > cols[i].cap - 1 || nulls[i])
                    cols[i].len = nulls[i] ? 0 : cols[i].cap - 1;
                cols[i].buf[cols[i].len] = '\0';
            }
        }
        out->rows++;
        if (row)
            row(arg, cols);
    }
    if (rc != MYSQL_NO_DATA)
        return fail(c, mysql_stmt_errno(s), "fetch", mysql_stmt_error(s), err);
    return SVC_DB_OK;
}

/* One attempt; *sent is set once the statement went to the server for execution. */
static enum svc_db_status exec_once(struct svc_db_conn *c, const char *sql,
                                    const struct svc_db_val *params, size_t np,
                                    struct svc_db_col *cols, size_t nc, svc_db_row_fn row,
                                    void *arg, struct svc_db_result *out, struct svc_db_err *err,
                                    bool *sent)
{
    enum svc_db_status st = SVC_DB_ERROR;
    MYSQL_BIND b[MAX_BIND];

    memset(out, 0, sizeof(*out));
    if (np > MAX_BIND || nc > MAX_BIND) {
        set_err(err, SVC_DB_ERROR, 0, "exec", "too many parameters or columns");
        return SVC_DB_ERROR;
    }
    MYSQL_STMT *s = prepared(c, sql, err, &st);
    if (!s)
        return st;
    if (mysql_stmt_param_count(s) != np || mysql_stmt_field_count(s) != nc) {
        set_err(err, SVC_DB_ERROR, 0, "exec", "parameter or column count differs from the SQL");
        st = SVC_DB_ERROR;
        goto out_uncached;
    }
    bind_params(b, params, np);
    if (np && mysql_stmt_bind_param(s, b) != 0) {
        st = fail(c, mysql_stmt_errno(s), "bind", mysql_stmt_error(s), err);
        goto out_uncached;
    }
    *sent = true;
    if (mysql_stmt_execute(s) != 0) {
        st = fail(c, mysql_stmt_errno(s), "execute", mysql_stmt_error(s), err);
        goto out_uncached;
    }
    st = nc ? fetch_rows(c, s, cols, nc, row, arg, out, err) : SVC_DB_OK;
    out->affected = (unsigned long long)mysql_stmt_affected_rows(s);
    out->insert_id = (unsigned long long)mysql_stmt_insert_id(s);
    mysql_stmt_free_result(s);
out_uncached:
    /* a statement the cache did not take (cache full) is closed here */
    for (int i = 0; i < STMT_CACHE; i++) {
        if (c->stmts[i].st == s)
            return st;
    }
    mysql_stmt_close(s);
    return st;
}

/* True when running sql again on a new connection cannot apply it twice: the statement never
 * reached execution (the connection died at prepare), the connection was found gone when sending
 * it, or it is a read that delivered no row yet. Never inside a transaction: its earlier
 * statements died with the connection. */
static bool retry_safe(const struct svc_db_conn *c, const char *sql, unsigned errnum, bool sent,
                       const struct svc_db_result *out)
{
    if (c->in_tx || !c->broken || out->rows > 0)
        return false;
    return !sent || errnum == CR_SERVER_GONE_ERROR || strncmp(sql, "SELECT", 6) == 0;
}

enum svc_db_status svc_db_exec(struct svc_db_conn *c, const char *sql,
                               const struct svc_db_val *params, size_t np, struct svc_db_col *cols,
                               size_t nc, svc_db_row_fn row, void *arg, struct svc_db_result *out,
                               struct svc_db_err *err)
{
    struct svc_db_result scratch;
    struct svc_db_err first = {0};

    if (!out)
        out = &scratch;
    bool sent = false;
    enum svc_db_status st = exec_once(c, sql, params, np, cols, nc, row, arg, out, &first, &sent);
    /* a pooled connection the server dropped (it restarted): once more on a fresh one */
    if (st == SVC_DB_UNAVAILABLE && retry_safe(c, sql, first.errnum, sent, out) &&
        open_conn(c, NULL)) {
        memset(&first, 0, sizeof(first));
        st = exec_once(c, sql, params, np, cols, nc, row, arg, out, &first, &sent);
    }
    if (st != SVC_DB_OK && err && err->code == SVC_DB_OK)
        *err = first;
    return st;
}

enum svc_db_status svc_db_begin(struct svc_db_conn *c, struct svc_db_err *err)
{
    if (mysql_autocommit(c->my, 0) != 0)
        return fail(c, mysql_errno(c->my), "begin", mysql_error(c->my), err);
    c->in_tx = true;
    return SVC_DB_OK;
}

enum svc_db_status svc_db_commit(struct svc_db_conn *c, struct svc_db_err *err)
{
    enum svc_db_status st = SVC_DB_OK;

    if (mysql_commit(c->my) != 0) {
        st = fail(c, mysql_errno(c->my), "commit", mysql_error(c->my), err);
        if (!c->broken)
            mysql_rollback(c->my);
    }
    if (!c->broken && mysql_autocommit(c->my, 1) != 0)
        c->broken = true;
    c->in_tx = false;
    return st;
}

void svc_db_rollback(struct svc_db_conn *c)
{
    if (!c->broken && (mysql_rollback(c->my) != 0 || mysql_autocommit(c->my, 1) != 0))
        c->broken = true;
    c->in_tx = false;
}

struct svc_db_val svc_db_int(long long i)
{
    return (struct svc_db_val){.type = SVC_DB_INT, .i = i};
}

struct svc_db_val svc_db_double(double d)
{
    return (struct svc_db_val){.type = SVC_DB_DOUBLE, .d = d};
}

struct svc_db_val svc_db_text(const char *s)
{
    return (struct svc_db_val){.type = SVC_DB_TEXT, .s = s, .len = strlen(s)};
}
