#!/usr/bin/env python3
"""Golden comparison: expected alerts vs. what the sensor wrote, field by field.

Usage: compare.py EXPECTED ACTUAL [--max-severity SEV]

Both files hold one JSON alert per line. Alerts are matched in order; every
field of every alert is compared (nested fields by their dotted path) except
the few that differ by design between runs (ids). A difference prints as
"alert 2 (rule elephant-upload-10m): evidence.bytes_out: expected 46070602, got 46070600".
--max-severity asserts a property on top of the golden file: no actual alert
above that severity (the benign captures use it, so a careless re-bless
cannot hide a false positive).
Exit 0 when equal, 1 otherwise.
"""
import json
import sys

IGNORED = {"alert_id", "alert.engagement_id"}
# Alert ids quoted inside evidence (host-risk's contributors) differ per run too.
IGNORED_LEAF = ".alert_id"
SEVERITIES = ["low", "medium", "high", "critical"]


def flatten(obj, prefix=""):
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
        if not obj:
            out[prefix[:-1]] = []
    else:
        out[prefix[:-1]] = obj
    return out


def load(path):
    alerts = []
    try:
        open(path, encoding="utf-8").close()
    except FileNotFoundError:
        sys.exit(f"  {path}: no expected alerts yet (tests/golden/bless.sh NAME writes them)")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                alerts.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not valid JSON: {e}")
    return alerts


def main():
    args = sys.argv[1:]
    max_sev = None
    if "--max-severity" in args:
        i = args.index("--max-severity")
        max_sev = args[i + 1]
        del args[i:i + 2]
    expected, actual = load(args[0]), load(args[1])
    problems = []
    for i in range(max(len(expected), len(actual))):
        if i >= len(expected):
            a = actual[i]
            problems.append(f"alert {i + 1}: unexpected {a.get('alert', {}).get('rule')} "
                            f"for {a.get('src_ip')}")
            continue
        if i >= len(actual):
            e = expected[i]
            problems.append(f"alert {i + 1}: missing {e.get('alert', {}).get('rule')} "
                            f"for {e.get('src_ip')}")
            continue
        fe, fa = flatten(expected[i]), flatten(actual[i])
        rule = expected[i].get("alert", {}).get("rule")
        for key in sorted(set(fe) | set(fa)):
            if key in IGNORED or key.endswith(IGNORED_LEAF):
                continue
            if fe.get(key, "<absent>") != fa.get(key, "<absent>"):
                problems.append(f"alert {i + 1} (rule {rule}): {key}: expected "
                                f"{fe.get(key, '<absent>')!r}, got {fa.get(key, '<absent>')!r}")
    if max_sev is not None:
        limit = SEVERITIES.index(max_sev)
        for i, a in enumerate(actual):
            sev = a.get("alert", {}).get("severity")
            if sev in SEVERITIES and SEVERITIES.index(sev) > limit:
                problems.append(f"alert {i + 1}: severity {sev} above {max_sev} on a benign "
                                f"capture (rule {a['alert'].get('rule')}, {a.get('src_ip')})")
    for p in problems:
        print(f"  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
