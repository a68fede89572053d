/* user.h: the user service: accounts, yescrypt passwords, session tokens, profiles. */
#ifndef USER_H
#define USER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "svc_app.h"

#define USER_EMAIL_MAX 254
#define USER_NAME_MAX 100
#define USER_PASSWORD_MIN 8
#define USER_PASSWORD_MAX 128
#define USER_SESSION_TTL_S (24 * 3600)
#define USER_SEED_COUNT 100
/* The password of every demo user (demo1..demo100@trip.example), documented in docs/services.md. */
#define USER_DEMO_PASSWORD "trip-demo-2026"
/* Its yescrypt hash, computed once so seeding takes no CPU. */
#define USER_DEMO_HASH "$y$j9T$N.Ii8kx5fv4skJ9nelqgH/$UssaaNR8oMn/ycGr3IOivLR91fE4n/BV0OrF9YGhjC0"
#define USER_TOKEN_HEX 64

extern const struct svc_service user_service;

struct user_input {
    char email[USER_EMAIL_MAX + 1]; /* lower-cased */
    const char *password, *name;    /* borrowed from the body */
};

/* POST /users (partial false: email, password, name required), PATCH /users/{id} (partial true:
 * name and/or password), POST /sessions (email and password, any length: only checked). False
 * with rep set to 400. Pure. */
bool user_input_parse(json_t *body, bool partial, struct user_input *in, struct svc_reply *rep);
bool user_login_parse(json_t *body, struct user_input *in, struct svc_reply *rep);

/* True when s looks like an e-mail address (one @, non-empty local part, dotted domain, no
 * spaces or control characters, at most 254 bytes). Pure. */
bool user_email_valid(const char *s);

/* Hashes password with yescrypt and a fresh random salt into out (at least 128 bytes). */
bool user_password_hash(const char *password, char *out, size_t size);
/* True when password matches hash (constant-time comparison). */
bool user_password_check(const char *password, const char *hash);

/* A new session token: 64 lowercase hex digits from 32 random bytes. */
bool user_token_new(char out[USER_TOKEN_HEX + 1]);
/* SHA-256 of the token text: what the sessions table stores. Pure. */
void user_token_hash(const char *token, unsigned char out[32]);

/* Formats epoch seconds as RFC 3339 UTC ("2026-01-01T00:00:00Z"). Pure. */
void user_time_format(long long epoch, char out[32]);

#endif
