/*
 * fuzz_rules - libFuzzer target for the rules parser: any bytes, with two
 * --set overrides (one of them HOME_NET), must parse or fail cleanly with
 * no crash, hang or leak. Every input that once crashed it is kept in
 * tests/fuzz/corpus/rules/.
 *
 *   tests/fuzz/run.sh 300 rules      (builds it with clang, ASan+UBSan, and runs it)
 */
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules_override ov[] = {
		{ "BULK_1H", "2 MB", 0 },
		{ "HOME_NET", "192.0.2.0/24, 2001:db8::/32", 0 },
	};
	struct ruleset *rs = NULL;
	struct rules_errors errs;
	char line[512];

	/* Every other input also without overrides, so "unknown --set" is not the only outcome. */
	if (rules_parse((const char *)data, size, "fuzz.rules", ov, size % 2 ? 2 : 0, &rs, &errs) == 0)
		for (size_t i = 0; i < rs->nrules; i++)
			rule_summary(&rs->rules[i], line, sizeof line);
	ruleset_free(rs);
	rules_errors_free(&errs);
	return 0;
}
