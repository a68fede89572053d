/* trip-place: the place service (docs/services.md). */
#include "place.h"

int main(int argc, char **argv)
{
    return svc_main(argc, argv, &place_service);
}
