/*
 * t.h - the unit tests' whole framework: a test is a function, a check
 * prints file:line and the failing expression, and main() runs the table.
 * Output is TAP-like ("ok N - name" / "not ok N - name") so tests/run.sh can
 * count passes and failures across every test binary.
 */
#ifndef OUTFLOW_T_H
#define OUTFLOW_T_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_checks;

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
	t_failed_checks++; } } while (0)
#define CHECK_EQ_U(a, b) do { uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b); if (_a != _b) { \
	fprintf(stderr, "  %s:%d: %s == %s failed: %" PRIu64 " != %" PRIu64 "\n", \
	    __FILE__, __LINE__, #a, #b, _a, _b); t_failed_checks++; } } while (0)
#define CHECK_EQ_S(a, b) do { const char *_a = (a), *_b = (b); \
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) { \
	fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
	    #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); t_failed_checks++; } } while (0)

struct t_case {
	const char *name;
	void (*fn)(void);
};
#define T(name) { #name, name }

static inline int
t_run(const char *suite, const struct t_case *cases, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = t_failed_checks;
		cases[i].fn();
		int ok = t_failed_checks == before;
		printf("%s %zu - %s.%s\n", ok ? "ok" : "not ok", i + 1, suite, cases[i].name);
		failed += !ok;
	}
	printf("# %s: %zu passed, %d failed\n", suite, n - (size_t)failed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

/*
 * t_run() with a fresh directory for the cases' files (t_path() names one
 * in it), removed afterwards; 2 if it cannot be made.
 */
static char t_dir[64];

static inline const char *
t_path(const char *name)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s/%s", t_dir, name);
	return buf;
}

static inline int
t_run_in_tmpdir(const char *suite, const struct t_case *cases, size_t n)
{
	char cmd[128];
	int rc;

	snprintf(t_dir, sizeof t_dir, "/tmp/outflow-test-%s-XXXXXX", suite);
	if (mkdtemp(t_dir) == NULL)
		return 2;
	rc = t_run(suite, cases, n);
	snprintf(cmd, sizeof cmd, "rm -rf %s", t_dir);
	return system(cmd) != 0 ? 1 : rc;
}

#define T_MAIN(suite, ...) \
	int main(void) { static const struct t_case c[] = { __VA_ARGS__ }; \
		return t_run(suite, c, sizeof c / sizeof c[0]); }

#endif
