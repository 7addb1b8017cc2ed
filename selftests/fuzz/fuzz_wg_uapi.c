// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A WireGuard UAPI `get=1` response (user/wireguard/wg_uapi.c), as wireguard-go writes it. */
#include <stdio.h>
#include "fuzz.h"
#include "wg_uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device dev;
	char err[256];

	memset(&dev, 0, sizeof(dev));
	wg_uapi_parse((const char *)data, size, &dev, err, sizeof(err));
	wg_device_free(&dev);
	return 0;
}
