/*~ CRC32C (Castagnoli) of a channel_update, the checksum peers compare in
 * reply_channel_range to skip updates that only changed their timestamp. */
#include "common/common.h"
#include "gossip/gossip.h"

static uint32_t crc_table[256];

static void crc_init(void)
{
	/* Reflected polynomial 0x1EDC6F41 (RFC 3720). */
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!crc_table[1])
		crc_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t gossip_chan_upd_checksum(const uint8_t *msg, size_t len)
{
	uint32_t crc;

	if (len < 110)
		return 0;
	/* BOLT 7: "the checksum of a channel_update is the CRC32C checksum
	 * ... of this channel_update without its signature and timestamp
	 * fields" — bytes 66..106 then 110.. (type and signature dropped). */
	crc = crc32c(0, msg + 66, 106 - 66);
	return crc32c(crc, msg + 110, len - 110);
}
