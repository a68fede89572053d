/* trip-bookmark: the bookmark service (docs/services.md). */
#include "bookmark.h"

int main(int argc, char **argv)
{
    return svc_main(argc, argv, &bookmark_service);
}
