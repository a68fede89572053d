/* atomic_file.c: temp file + fsync + rename + directory fsync. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

atomic_file_code atomic_file_write(const char *dir, const char *tmp, const char *path,
                                   const char *text, void (*before_sync)(void),
                                   struct atomic_file_err *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0)
        return ERR_SET(err, ATOMIC_FILE_E_WRITE, "open %s: %s", tmp, strerror(errno));
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0) {
        ERR_SET(err, ATOMIC_FILE_E_WRITE, "write %s: %s", tmp, strerror(errno));
        goto out_close;
    }
    if (before_sync)
        before_sync();
    if (fsync(fd) != 0) {
        ERR_SET(err, ATOMIC_FILE_E_WRITE, "fsync %s: %s", tmp, strerror(errno));
        goto out_close;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        ERR_SET(err, ATOMIC_FILE_E_RENAME, "rename %s: %s", path, strerror(errno));
        unlink(tmp);
        return ATOMIC_FILE_E_RENAME;
    }
    if (fsync_dir(dir) != 0)
        return ERR_SET(err, ATOMIC_FILE_E_SYNC_DIR, "fsync %s: %s", dir, strerror(errno));
    return ATOMIC_FILE_OK;
out_close:
    close(fd);
    unlink(tmp);
    return ATOMIC_FILE_E_WRITE;
}
