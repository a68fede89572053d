/* fuzz_svc_body.c: the JSON bodies the trip services accept (services/): svc_req_json, then every
 * body validator (place POST/PATCH, user sign-up/PATCH/log-in, review POST). Input: the body. */
#include "fuzz_common.h"

#include "place.h"
#include "review.h"
#include "svc_route.h"
#include "svc_valid.h"
#include "user.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_reply(struct svc_reply *rep, bool ok)
{
    /* a refusal is always a 400 JSON error with a code and a UTF-8 message */
    if (!ok) {
        FUZZ_CHECK(rep->status == 400);
        FUZZ_CHECK(json_is_string(json_object_get(rep->json, "error")));
        FUZZ_CHECK(fuzz_utf8(json_string_value(json_object_get(rep->json, "message"))));
        char *text = json_dumps(rep->json, 0);
        FUZZ_CHECK(text != NULL);
        free(text);
    }
    svc_reply_free(rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct svc_req req = {.body = (const char *)data, .body_len = size};
    struct svc_reply rep = {0};
    struct place_input pin;
    struct user_input uin;
    struct review_input rin;

    json_t *body = svc_req_json(&req, &rep);
    if (!body) {
        check_reply(&rep, false);
        return 0;
    }
    bool ok = place_input_parse(body, false, &pin, &rep);
    if (ok) {
        FUZZ_CHECK(pin.lat >= -90 && pin.lat <= 90 && pin.lon >= -180 && pin.lon <= 180);
        FUZZ_CHECK(place_category_valid(pin.category));
        FUZZ_CHECK(svc_utf8_chars(pin.name, strlen(pin.name)) <= PLACE_NAME_MAX);
    }
    check_reply(&rep, ok);
    check_reply(&rep, place_input_parse(body, true, &pin, &rep));
    ok = user_input_parse(body, false, &uin, &rep);
    if (ok)
        FUZZ_CHECK(user_email_valid(uin.email) && strlen(uin.password) <= 4 * USER_PASSWORD_MAX);
    check_reply(&rep, ok);
    check_reply(&rep, user_input_parse(body, true, &uin, &rep));
    check_reply(&rep, user_login_parse(body, &uin, &rep));
    ok = review_input_parse(body, &rin, &rep);
    if (ok)
        FUZZ_CHECK(rin.stars >= 1 && rin.stars <= 5 && rin.text != NULL);
    check_reply(&rep, ok);
    json_decref(body);
    return 0;
}
