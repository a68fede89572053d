/* trip-user: the user service (docs/services.md). */
#include "user.h"

int main(int argc, char **argv)
{
    return svc_main(argc, argv, &user_service);
}
