/*
 * pp.h — preprocessor helpers that turn the one call table (calls.def) into
 * code: argument counting and "apply a macro to each tuple" up to 12 tuples.
 *
 * A tuple is a parenthesised argument description such as (IN, size_t, n).
 * RGPU_EACH(m, t...) expands m(t) for every tuple; RGPU_EACH_C does the same
 * with commas between the results (parameter lists).
 */
#ifndef RGPU_WIRE_PP_H
#define RGPU_WIRE_PP_H

#define RGPU_CAT(a, b) RGPU_CAT_(a, b)
#define RGPU_CAT_(a, b) a##b

#define RGPU_NARGS(...) RGPU_NARGS_(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define RGPU_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N

#define RGPU_EACH(m, ...) RGPU_CAT(RGPU_EACH_, RGPU_NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define RGPU_EACH_1(m, x) m(x)
#define RGPU_EACH_2(m, x, ...) m(x) RGPU_EACH_1(m, __VA_ARGS__)
#define RGPU_EACH_3(m, x, ...) m(x) RGPU_EACH_2(m, __VA_ARGS__)
#define RGPU_EACH_4(m, x, ...) m(x) RGPU_EACH_3(m, __VA_ARGS__)
#define RGPU_EACH_5(m, x, ...) m(x) RGPU_EACH_4(m, __VA_ARGS__)
#define RGPU_EACH_6(m, x, ...) m(x) RGPU_EACH_5(m, __VA_ARGS__)
#define RGPU_EACH_7(m, x, ...) m(x) RGPU_EACH_6(m, __VA_ARGS__)
#define RGPU_EACH_8(m, x, ...) m(x) RGPU_EACH_7(m, __VA_ARGS__)
#define RGPU_EACH_9(m, x, ...) m(x) RGPU_EACH_8(m, __VA_ARGS__)
#define RGPU_EACH_10(m, x, ...) m(x) RGPU_EACH_9(m, __VA_ARGS__)
#define RGPU_EACH_11(m, x, ...) m(x) RGPU_EACH_10(m, __VA_ARGS__)
#define RGPU_EACH_12(m, x, ...) m(x) RGPU_EACH_11(m, __VA_ARGS__)

#define RGPU_EACH_C(m, ...) RGPU_CAT(RGPU_EACHC_, RGPU_NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define RGPU_EACHC_1(m, x) m(x)
#define RGPU_EACHC_2(m, x, ...) m(x), RGPU_EACHC_1(m, __VA_ARGS__)
#define RGPU_EACHC_3(m, x, ...) m(x), RGPU_EACHC_2(m, __VA_ARGS__)
#define RGPU_EACHC_4(m, x, ...) m(x), RGPU_EACHC_3(m, __VA_ARGS__)
#define RGPU_EACHC_5(m, x, ...) m(x), RGPU_EACHC_4(m, __VA_ARGS__)
#define RGPU_EACHC_6(m, x, ...) m(x), RGPU_EACHC_5(m, __VA_ARGS__)
#define RGPU_EACHC_7(m, x, ...) m(x), RGPU_EACHC_6(m, __VA_ARGS__)
#define RGPU_EACHC_8(m, x, ...) m(x), RGPU_EACHC_7(m, __VA_ARGS__)
#define RGPU_EACHC_9(m, x, ...) m(x), RGPU_EACHC_8(m, __VA_ARGS__)
#define RGPU_EACHC_10(m, x, ...) m(x), RGPU_EACHC_9(m, __VA_ARGS__)
#define RGPU_EACHC_11(m, x, ...) m(x), RGPU_EACHC_10(m, __VA_ARGS__)
#define RGPU_EACHC_12(m, x, ...) m(x), RGPU_EACHC_11(m, __VA_ARGS__)

/* Apply a per-direction macro family to one tuple: RGPU_DIR(P_, (IN, int, x))
 * expands to P_IN(int, x). */
#define RGPU_DIR(fam, t) RGPU_DIR_(fam, RGPU_UNPAREN t)
#define RGPU_DIR_(fam, ...) RGPU_DIR__(fam, __VA_ARGS__)
#define RGPU_DIR__(fam, dir, ...) RGPU_CAT(fam, dir)(__VA_ARGS__)
#define RGPU_UNPAREN(...) __VA_ARGS__

#endif
