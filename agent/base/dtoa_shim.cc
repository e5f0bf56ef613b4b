/*
 * double-conversion's shortest digits (Grisu with a bignum fallback: always the shortest string
 * that reads back, in a few hundred instructions) behind the C interface of dtoa_shim.h.
 */
#include "dtoa_shim.h"

#include <double-conversion/double-to-string.h>

using double_conversion::DoubleToStringConverter;

extern "C" int
cdc_shortest_digits(double v, int single, char digits[18], int *exp10)
{
    bool sign = false;
    int length = 0, point = 0;
    DoubleToStringConverter::DoubleToAscii(
        v, single ? DoubleToStringConverter::SHORTEST_SINGLE : DoubleToStringConverter::SHORTEST, 0,
        digits, 18, &sign, &length, &point);
    *exp10 = point - 1;
    return length;
}
