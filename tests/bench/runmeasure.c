/*
 * runmeasure - run one command, report its wall time and peak RSS.
 *
 *   runmeasure RESULT_FILE COMMAND [ARGS...]
 *
 * Writes "<wall seconds> <peak RSS KB> <exit status> <CPU seconds>" (user +
 * system) to RESULT_FILE; the
 * command keeps this process's stdin/stdout/stderr. It is what
 * `/usr/bin/time -f '%e %M'` reports (ru_maxrss from wait4 is where GNU time
 * gets %M), with nanosecond wall time instead of centiseconds: the quick
 * captures take well under a second per run. Built by tests/bench/run.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status, code;
	pid_t pid;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: runmeasure RESULT_FILE COMMAND [ARGS...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "runmeasure: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runmeasure: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "runmeasure: wait4: %s\n", strerror(errno));
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if ((f = fopen(argv[1], "w")) == NULL) {
		fprintf(stderr, "runmeasure: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(f, "%.6f %ld %d %.6f\n", (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss, code,
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return fclose(f) == 0 ? code : 1;
}
