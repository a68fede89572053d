/* ssl_lean.c: see ssl_lean.h. */
#include "ssl_lean.h"

#ifdef TRIP_HAVE_OPENSSL
#include <openssl/ssl.h>

void ssl_lean_init(void)
{
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
                         OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                         OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
                     NULL);
}
#else
void ssl_lean_init(void)
{
}
#endif
