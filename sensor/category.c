/*
 * category - see category.h.
 */
#include <string.h>

#include "category.h"

static const char *const cat_names[CAT__COUNT] = {
	[CAT_BULK_TRANSFER] = "bulk-transfer",
	[CAT_STAGING] = "staging",
	[CAT_CLOUD_UPLOAD] = "cloud-upload",
	[CAT_DNS_TUNNEL] = "dns-tunnel",
	[CAT_ICMP_TUNNEL] = "icmp-tunnel",
	[CAT_BEACON] = "beacon",
	[CAT_LONG_CONNECTION] = "long-connection",
	[CAT_CHUNKED_TRANSFER] = "chunked-transfer",
	[CAT_UNUSUAL_PROTOCOL] = "unusual-protocol",
	[CAT_NEW_DESTINATION] = "new-destination",
	[CAT_BASELINE_ANOMALY] = "baseline-anomaly",
	[CAT_HOST_RISK] = "host-risk",
};

static const char *const sev_names[SEV__COUNT] = {
	[SEV_LOW] = "low",
	[SEV_MEDIUM] = "medium",
	[SEV_HIGH] = "high",
	[SEV_CRITICAL] = "critical",
};

const char *
category_name(enum alert_category c)
{
	return (unsigned)c < CAT__COUNT ? cat_names[c] : "unknown";
}

int
category_lookup(const char *name)
{
	for (int i = 0; i < CAT__COUNT; i++)
		if (strcmp(cat_names[i], name) == 0)
			return i;
	return -1;
}

const char *
severity_name(enum alert_severity s)
{
	return (unsigned)s < SEV__COUNT ? sev_names[s] : "unknown";
}

int
severity_lookup(const char *name)
{
	for (int i = 0; i < SEV__COUNT; i++)
		if (strcmp(sev_names[i], name) == 0)
			return i;
	return -1;
}
