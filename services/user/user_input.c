/* user_input.c: account fields, password hashing and session tokens. */
#include "user.h"

#include <crypt.h>
#include <ctype.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "svc_valid.h"

bool user_email_valid(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');

    if (n < 3 || n > USER_EMAIL_MAX || !at || at == s || strchr(at + 1, '@'))
        return false;
    const char *dot = strchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0' || s[n - 1] == '.')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == ',' || c == '<' || c == '>')
            return false;
    }
    return true;
}

static bool email_field(json_t *body, bool required, struct user_input *in, struct svc_reply *rep)
{
    const char *email = NULL;

    if (!svc_valid_text(body, "email", required, 3, USER_EMAIL_MAX, SVC_TEXT_LINE, &email, rep))
        return false;
    if (!email)
        return true;
    if (strlen(email) > USER_EMAIL_MAX || !user_email_valid(email)) {
        svc_reply_error(rep, 400, "invalid_field", "email: not an e-mail address");
        return false;
    }
    size_t i = 0;
    for (; email[i]; i++)
        in->email[i] = (char)tolower((unsigned char)email[i]);
    in->email[i] = '\0';
    return true;
}

bool user_input_parse(json_t *body, bool partial, struct user_input *in, struct svc_reply *rep)
{
    static const char *const create_keys[] = {"email", "password", "name", NULL};
    static const char *const patch_keys[] = {"password", "name", NULL};

    memset(in, 0, sizeof(*in));
    if (!svc_valid_keys(body, partial ? patch_keys : create_keys, rep) ||
        (!partial && !email_field(body, true, in, rep)) ||
        !svc_valid_text(body, "password", !partial, USER_PASSWORD_MIN, USER_PASSWORD_MAX,
                        SVC_TEXT_LINE, &in->password, rep) ||
        !svc_valid_text(body, "name", !partial, 1, USER_NAME_MAX, SVC_TEXT_LINE, &in->name, rep))
        return false;
    if (partial && !in->password && !in->name) {
        svc_reply_error(rep, 400, "invalid_field", "give name and/or password to change");
        return false;
    }
    return true;
}

bool user_login_parse(json_t *body, struct user_input *in, struct svc_reply *rep)
{
    static const char *const keys[] = {"email", "password", NULL};

    memset(in, 0, sizeof(*in));
    return svc_valid_keys(body, keys, rep) && email_field(body, true, in, rep) &&
           svc_valid_text(body, "password", true, 1, USER_PASSWORD_MAX, SVC_TEXT_LINE,
                          &in->password, rep);
}

bool user_password_hash(const char *password, char *out, size_t size)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *d = calloc(1, sizeof(*d));
    bool ok = false;

    if (!d)
        return false;
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) &&
        crypt_rn(password, salt, d, sizeof(*d)) && d->output[0] != '*' &&
        strlen(d->output) < size) {
        memcpy(out, d->output, strlen(d->output) + 1);
        ok = true;
    }
    explicit_bzero(d, sizeof(*d));
    free(d);
    return ok;
}

bool user_password_check(const char *password, const char *hash)
{
    struct crypt_data *d = calloc(1, sizeof(*d));
    unsigned char diff = 0;

    if (!d)
        return false;
    const char *got = crypt_rn(password, hash, d, sizeof(*d));
    size_t n = strlen(hash);
    bool ok = got && got[0] != '*' && strlen(got) == n;
    for (size_t i = 0; ok && i < n; i++)
        diff |= (unsigned char)(got[i] ^ hash[i]);
    explicit_bzero(d, sizeof(*d));
    free(d);
    return ok && diff == 0;
}

bool user_token_new(char out[USER_TOKEN_HEX + 1])
{
    unsigned char raw[32];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return false;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

void user_token_hash(const char *token, unsigned char out[32])
{
    struct sha256_ctx ctx;

    sha256_init(&ctx);
    sha256_update(&ctx, strlen(token), (const uint8_t *)token);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

void user_time_format(long long epoch, char out[32])
{
    time_t t = (time_t)epoch;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
