/*
 * category - the alert vocabulary dashboards are built against: categories
 * and severities, their stable names, and lookups from text. Changing a name
 * here is a contract change (README, rules/README.md, golden files).
 */
#ifndef OUTFLOW_CATEGORY_H
#define OUTFLOW_CATEGORY_H

enum alert_category {
	CAT_BULK_TRANSFER,
	CAT_STAGING,
	CAT_CLOUD_UPLOAD,
	CAT_DNS_TUNNEL,
	CAT_ICMP_TUNNEL,
	CAT_BEACON,
	CAT_LONG_CONNECTION,
	CAT_CHUNKED_TRANSFER,
	CAT_UNUSUAL_PROTOCOL,
	CAT_NEW_DESTINATION,
	CAT_BASELINE_ANOMALY,
	CAT_HOST_RISK,
	CAT__COUNT
};

enum alert_severity {
	SEV_LOW,
	SEV_MEDIUM,
	SEV_HIGH,
	SEV_CRITICAL,
	SEV__COUNT
};

const char *category_name(enum alert_category c);	/* "bulk-transfer" */
int category_lookup(const char *name);			/* -1 if unknown */
const char *severity_name(enum alert_severity s);	/* "high" */
int severity_lookup(const char *name);			/* -1 if unknown */

#endif
