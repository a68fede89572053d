/* review_input.c: validation of review bodies and the rating arithmetic. */
#include "review.h"

#include <math.h>

#include "svc_valid.h"

bool review_input_parse(json_t *body, struct review_input *in, struct svc_reply *rep)
{
    static const char *const keys[] = {"stars", "text", NULL};

    in->stars = 0;
    in->text = "";
    return svc_valid_keys(body, keys, rep) &&
           svc_valid_int(body, "stars", true, 1, 5, &in->stars, rep) &&
           svc_valid_text(body, "text", false, 0, REVIEW_TEXT_MAX, SVC_TEXT_MULTILINE, &in->text,
                          rep);
}

double review_average(long long sum, long long count)
{
    if (count <= 0)
        return 0;
    return round((double)sum * 100.0 / (double)count) / 100.0;
}
