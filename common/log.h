/*
 * log.h — leveled logging to stderr for every rgpu component.
 *
 * The level comes from RGPU_LOG (error|warn|info|debug; default warn) or from
 * rgpu_log_set_level(). Messages below the level cost one branch: keep debug
 * logging off hot paths anyway.
 */
#ifndef RGPU_COMMON_LOG_H
#define RGPU_COMMON_LOG_H

enum rgpu_log_level { RGPU_LOG_ERROR = 0, RGPU_LOG_WARN, RGPU_LOG_INFO, RGPU_LOG_DEBUG };

extern int rgpu_log_level;
void rgpu_log_init(const char *component);
void rgpu_log_set_level(int level);
int rgpu_log_parse_level(const char *s); /* -1 if unknown */
void rgpu_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rgpu_log(level, ...)                                                                       \
    do {                                                                                           \
        if ((level) <= rgpu_log_level)                                                             \
            rgpu_log_write((level), __VA_ARGS__);                                                  \
    } while (0)
#define rgpu_err(...) rgpu_log(RGPU_LOG_ERROR, __VA_ARGS__)
#define rgpu_warn(...) rgpu_log(RGPU_LOG_WARN, __VA_ARGS__)
#define rgpu_info(...) rgpu_log(RGPU_LOG_INFO, __VA_ARGS__)
#define rgpu_debug(...) rgpu_log(RGPU_LOG_DEBUG, __VA_ARGS__)

#endif
