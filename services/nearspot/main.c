/* trip-nearspot: the nearspot service (docs/services.md). */
#include "nearspot.h"

int main(int argc, char **argv)
{
    return svc_main(argc, argv, &nearspot_service);
}
