/* The value of a gossiped VIP entry (table "vip", key = service name), written by the managers'
 * leader and read by every node's DNS feed and `service ls`: msgpack {"a": "A.B.C.D", "t": term},
 * where term is the Raft term of the leader that wrote it. A leader does not overwrite an entry
 * from a higher term (a newer leader, or another cluster that shares the gossip pool), so two
 * writers cannot flap an entry back and forth. */
#ifndef PD_VIP_VALUE_H
#define PD_VIP_VALUE_H

#include <stddef.h>
#include <stdint.h>

#define PD_VIP_VALUE_MAX 48u

/* addr is host byte order. Returns the length written into out[PD_VIP_VALUE_MAX]. */
size_t pd_vip_value_encode(uint32_t addr, uint64_t term, uint8_t out[PD_VIP_VALUE_MAX]);
/* 0, or -PD_EMALFORMED (not a map with an IPv4 "a" and an unsigned "t"). */
int pd_vip_value_decode(const uint8_t *v, size_t len, uint32_t *addr, uint64_t *term);

#endif
