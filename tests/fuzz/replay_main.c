/* replay_main.c: main() for a libFuzzer target built without libFuzzer (any compiler). Runs
 * LLVMFuzzerTestOneInput once on every regular file directly in each DIR argument, in name order,
 * as tests/fuzz/replay does with the libFuzzer build: the main build's ctest replays the seed
 * corpus and the regression inputs (tests/CMakeLists.txt, tests fuzz-replay/<target>), and the
 * ASan build does so under ASan+UBSan. A crash, an abort (FUZZ_CHECK) or a sanitizer report fails
 * the program; no input at all fails it too.
 * Usage: replay_<target> DIR... */
#include "fuzz_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Optional in a target: libFuzzer calls it once before the first input when it is defined. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir (not "."-files); returns how many, -1 when dir is unreadable. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[4096];
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL && n < 4096) {
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), by_name);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        free(names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        if (!f || !buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
            fprintf(stderr, "replay: cannot read %s\n", path);
            exit(1);
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
        free(buf);
        ran++;
    }
    return ran;
}

int main(int argc, char **argv)
{
    int total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        int n = replay_dir(argv[i]);
        if (n > 0)
            total += n;
    }
    printf("replay: %s: %d inputs, no crash\n", argv[0], total);
    if (total == 0) {
        fprintf(stderr, "replay: no inputs in the given directories\n");
        return 1;
    }
    return 0;
}
