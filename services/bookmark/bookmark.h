/* bookmark.h: the bookmark service: each user's saved places. */
#ifndef BOOKMARK_H
#define BOOKMARK_H

#include "svc_app.h"

extern const struct svc_service bookmark_service;

#endif
