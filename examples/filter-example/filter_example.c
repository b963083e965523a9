/*
 * The smallest useful filter: refuse mail from one sender domain.
 * See README.md in this folder to write your own.
 */
#include <string.h>

#include "smtpd-api.h"

static void
on_mail(uint64_t id, const struct filter_mailaddr *sender, void *arg)
{
	if (strcasecmp(sender->domain, "spam.example") == 0)
		filter_api_reject(id, 550, "5.7.1", "No mail from spam.example");
	else
		filter_api_accept(id);
}

int
main(void)
{
	filter_api_init("filter-example");
	filter_api_on_mail(on_mail, NULL);
	return filter_api_loop();
}
