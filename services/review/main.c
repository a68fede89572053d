/* trip-review: the review service (docs/services.md). */
#include "review.h"

int main(int argc, char **argv)
{
    return svc_main(argc, argv, &review_service);
}
