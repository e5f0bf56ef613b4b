/*
 * Clocks: monotonic for durations and deadlines, wall for timestamps that leave the process
 * (event ts_ms, protocol send times).
 */
#ifndef CDC_CLOCK_H
#define CDC_CLOCK_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline int64_t
cdc_clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic microseconds / milliseconds (durations, timeouts). */
static inline int64_t
cdc_mono_us(void)
{
    return cdc_clock_us(CLOCK_MONOTONIC);
}

static inline int64_t
cdc_mono_ms(void)
{
    return cdc_mono_us() / 1000;
}

/* Wall-clock microseconds / milliseconds since the Unix epoch. */
static inline int64_t
cdc_wall_us(void)
{
    return cdc_clock_us(CLOCK_REALTIME);
}

static inline int64_t
cdc_wall_ms(void)
{
    return cdc_wall_us() / 1000;
}

/* Milliseconds since the Unix epoch as ISO-8601 UTC with milliseconds,
 * "2026-12-07T08:00:00.123Z", into out (CDC_UTC_MS_LEN bytes hold it). */
#define CDC_UTC_MS_LEN 32
static inline void
cdc_format_utc_ms(char *out, size_t n, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(ms % 1000));
}

#endif
