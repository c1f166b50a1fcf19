/*
 * imagecache.c — see imagecache.h.
 */
#define _GNU_SOURCE
#include "imagecache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

static char dir[256];
static uint64_t cache_limit;

bool imagecache_init(uint64_t limit, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/rgpud-images.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "image cache: %s: %s", dir, strerror(errno));
        dir[0] = 0;
        return false;
    }
    cache_limit = limit;
    return true;
}

void imagecache_cleanup(void)
{
    if (!dir[0])
        return;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
}

static void path_of(const struct rgpu_image_ref *ref, char *out, size_t n)
{
    snprintf(out, n, "%s/%016llx%016llx-%llu", dir, (unsigned long long)ref->hash[1],
             (unsigned long long)ref->hash[0], (unsigned long long)ref->size);
}

void *imagecache_get(const struct rgpu_image_ref *ref, size_t *len)
{
    char path[512];
    if (!dir[0])
        return NULL;
    path_of(ref, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *buf = NULL;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == ref->size && (buf = malloc(ref->size ? ref->size : 1))) {
        if (rgpu_read_full(fd, buf, ref->size) != 0) {
            free(buf);
            buf = NULL;
        }
    }
    close(fd);
    if (buf) {
        utimensat(AT_FDCWD, path, NULL, 0); /* recently used */
        *len = ref->size;
    }
    return buf;
}

/* Remove least recently used images until the directory fits its limit. */
static void trim(void)
{
    for (;;) {
        DIR *d = opendir(dir);
        if (!d)
            return;
        uint64_t total = 0;
        char oldest[256] = "";
        struct timespec when = {0};
        struct dirent *e;
        while ((e = readdir(d))) {
            struct stat st;
            if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) != 0)
                continue;
            total += (uint64_t)st.st_size;
            if (!oldest[0] || st.st_mtim.tv_sec < when.tv_sec ||
                (st.st_mtim.tv_sec == when.tv_sec && st.st_mtim.tv_nsec < when.tv_nsec)) {
                snprintf(oldest, sizeof oldest, "%s", e->d_name);
                when = st.st_mtim;
            }
        }
        if (total > cache_limit && oldest[0])
            unlinkat(dirfd(d), oldest, 0);
        closedir(d);
        if (total <= cache_limit || !oldest[0])
            return;
    }
}

void imagecache_put(const struct rgpu_image_ref *ref, const void *data, size_t len)
{
    char path[512], tmp[560];
    if (!dir[0] || len > cache_limit)
        return;
    path_of(ref, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0)
            off += (size_t)w;
    }
    close(fd);
    if (off == len && rename(tmp, path) == 0)
        trim();
    else
        unlink(tmp);
}
