/*
 * The shortest decimal digits of a double, from Google's double-conversion library through a thin
 * extern "C" shim (agent/base/dtoa_shim.cc).
 */
#ifndef CDC_DTOA_SHIM_H
#define CDC_DTOA_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

/* The fewest significant digits of |v| (finite) that read back as v, as a float when single:
 * digits[0..n) without sign or point (n <= 17, NUL-terminated), and the decimal exponent of the
 * first digit (v = 0.d1d2... * 10^(exp10 + 1)). Returns n. Any thread. */
int cdc_shortest_digits(double v, int single, char digits[18], int *exp10);

#ifdef __cplusplus
}
#endif

#endif
