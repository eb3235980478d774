/* tg_test.h - a minimal C test harness for ctest: CHECK records failures and goes on,
 * TG_TEST_MAIN runs the listed tests and returns non-zero when any check failed.
 * argv[1] is the repository root (for data files such as tokgeo/data/gpt2/). */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <stdio.h>
#include <string.h>

static int tg_test_failures = 0;
static const char *tg_test_root = ".";

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
            tg_test_failures++;                                                            \
        }                                                                                  \
    } while (0)

#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        tg_status _st = (expr);                                                            \
        if (_st != TG_OK) {                                                                \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr,      \
                    tg_status_name(_st), tg_last_error());                                 \
            tg_test_failures++;                                                            \
        }                                                                                  \
    } while (0)

#define CHECK_STATUS(expr, want)                                                           \
    do {                                                                                   \
        tg_status _st = (expr);                                                            \
        if (_st != (want)) {                                                               \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__,         \
                    __LINE__, #expr, tg_status_name(_st), tg_status_name(want),            \
                    tg_last_error());                                                      \
            tg_test_failures++;                                                            \
        }                                                                                  \
    } while (0)

typedef void (*tg_test_fn)(void);
typedef struct {
    const char *name;
    tg_test_fn fn;
} tg_test_case;

static inline int tg_test_run(int argc, char **argv, const tg_test_case *cases, size_t n) {
    if (argc > 1) tg_test_root = argv[1];
    for (size_t i = 0; i < n; i++) {
        int before = tg_test_failures;
        cases[i].fn();
        printf("%s %s\n", tg_test_failures == before ? "ok  " : "FAIL", cases[i].name);
    }
    printf("%zu tests, %d failed checks\n", n, tg_test_failures);
    return tg_test_failures ? 1 : 0;
}

#define TG_TEST_MAIN(...)                                                                  \
    int main(int argc, char **argv) {                                                      \
        static const tg_test_case cases[] = {__VA_ARGS__};                                 \
        return tg_test_run(argc, argv, cases, sizeof cases / sizeof cases[0]);             \
    }
#define TG_CASE(fn) {#fn, fn}

#endif
