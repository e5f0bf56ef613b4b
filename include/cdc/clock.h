/*
 * Clocks: monotonic for durations and deadlines, wall for timestamps that leave the process
 * (event ts_ms, protocol send times).
 */
#ifndef CDC_CLOCK_H
#define CDC_CLOCK_H

#include <stdint.h>
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

#endif
