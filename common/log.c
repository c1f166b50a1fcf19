/*
 * log.c — see log.h. One write(2) per message so lines from several threads
 * and processes do not interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

int rgpu_log_level = RGPU_LOG_WARN;
static const char *log_component = "rgpu";

int rgpu_log_parse_level(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

void rgpu_log_init(const char *component)
{
    log_component = component;
    const char *env = getenv("RGPU_LOG");
    if (env && rgpu_log_parse_level(env) >= 0)
        rgpu_log_level = rgpu_log_parse_level(env);
}

void rgpu_log_set_level(int level) { rgpu_log_level = level; }

void rgpu_log_write(int level, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s[%d] %s: ", log_component, (int)getpid(), tags[level]);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
}
