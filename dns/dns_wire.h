/* DNS wire format (RFC 1035, RFC 6891 OPT): a bounded, allocation-free parser for queries and a
 * builder that compresses the names it writes. Every cap is an enum here.
 *
 * Names travel between parser, table and builder in uncompressed wire form: length-prefixed labels
 * ending with the root label (a zero byte), e.g. "\3web\3svc\0". */
#ifndef PD_DNS_WIRE_H
#define PD_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"

enum pd_dns_wire_caps {
    PD_DNS_HDR_LEN = 12,
    PD_DNS_LABEL_MAX = 63,      /* bytes in one label */
    PD_DNS_NAME_MAX = 255,      /* wire bytes of a name, root label included */
    PD_DNS_LABELS_MAX = 127,    /* labels in a name, root excluded */
    PD_DNS_UDP_MIN = 512,       /* plain DNS over UDP, and the floor for EDNS sizes */
    PD_DNS_UDP_MAX = 4096,      /* ceiling for a client's advertised EDNS size */
    PD_DNS_MSG_MAX = 65535,     /* a TCP message */
    PD_DNS_QUERY_RR_MAX = 16,   /* records (an+ns+ar) a query may carry besides its question */
    PD_DNS_COMP_MAX = 64,       /* name suffixes the builder remembers for compression */
    PD_DNS_COMP_OFF_MAX = 0x3fff, /* largest offset a compression pointer can hold */
    PD_DNS_OPT_LEN = 11,        /* an OPT record without options */
    PD_DNS_PTR_HOPS_MAX = 127,  /* pointers followed while comparing names the builder wrote */
};

enum pd_dns_type {
    PD_DNS_T_A = 1,
    PD_DNS_T_NS = 2,
    PD_DNS_T_CNAME = 5,
    PD_DNS_T_SOA = 6,
    PD_DNS_T_PTR = 12,
    PD_DNS_T_MX = 15,
    PD_DNS_T_TXT = 16,
    PD_DNS_T_AAAA = 28,
    PD_DNS_T_SRV = 33,
    PD_DNS_T_OPT = 41,
    PD_DNS_T_IXFR = 251,
    PD_DNS_T_AXFR = 252,
    PD_DNS_T_MAILB = 253,
    PD_DNS_T_MAILA = 254,
    PD_DNS_T_ANY = 255,
};

enum pd_dns_class { PD_DNS_C_IN = 1, PD_DNS_C_ANY = 255 };

enum pd_dns_rcode {
    PD_DNS_R_NOERROR = 0,
    PD_DNS_R_FORMERR = 1,
    PD_DNS_R_SERVFAIL = 2,
    PD_DNS_R_NXDOMAIN = 3,
    PD_DNS_R_NOTIMP = 4,
    PD_DNS_R_REFUSED = 5,
    PD_DNS_R_BADVERS = 16, /* extended: upper 8 bits travel in the OPT TTL */
};

enum pd_dns_flag {
    PD_DNS_F_QR = 0x8000,
    PD_DNS_F_OPCODE = 0x7800, /* mask; QUERY is 0 */
    PD_DNS_F_AA = 0x0400,
    PD_DNS_F_TC = 0x0200,
    PD_DNS_F_RD = 0x0100,
    PD_DNS_F_RA = 0x0080,
    PD_DNS_F_AD = 0x0020,
    PD_DNS_F_CD = 0x0010,
    PD_DNS_F_RCODE = 0x000f, /* mask */
    PD_DNS_EDNS_DO = 0x8000, /* in the OPT flags */
};

typedef struct {
    uint16_t id;
    uint16_t flags;
    uint16_t qdcount, ancount, nscount, arcount;
} pd_dns_hdr_t;

/* A decompressed name: wire bytes (root included) and where each label starts. */
typedef struct {
    uint16_t len;    /* wire bytes, root label included: 1..255 */
    uint8_t nlabels; /* root excluded: 0..127 */
    uint8_t off[PD_DNS_LABELS_MAX];
    uint8_t wire[PD_DNS_NAME_MAX];
} pd_dns_name_t;

typedef struct {
    pd_dns_hdr_t hdr;
    pd_dns_name_t qname; /* the client's spelling, case preserved */
    uint16_t qtype;
    uint16_t qclass;
    uint8_t has_edns;
    uint8_t edns_version;
    uint16_t edns_flags;
    uint16_t udp_size; /* client's EDNS size clamped to [512, 4096]; 512 without EDNS */
} pd_dns_query_t;

/* Header only. 0 or -PD_ETRUNCATED. */
int pd_dns_hdr_parse(const uint8_t *msg, size_t len, pd_dns_hdr_t *out);

/* A name at r->pos; compression pointers are resolved against the whole buffer r->data and must
 * point strictly backwards (before the labels that led to them) and past the header, so loops
 * cannot happen. Advances r past the name as it appears at r->pos. 0, -PD_ETRUNCATED or
 * -PD_EMALFORMED (also recorded in r->err; *out then holds a part of the name: use none of it). */
int pd_dns_name_parse(pd_rbuf_t *r, pd_dns_name_t *out);

/* A whole query: header, exactly one question, any answer/authority records skipped, and the
 * additional section searched for a single OPT record (owner must be the root). Anything after the
 * last counted record is ignored. 0, -PD_ETRUNCATED or -PD_EMALFORMED (then *out holds a partly
 * parsed query: use none of it). */
int pd_dns_query_parse(const uint8_t *msg, size_t len, pd_dns_query_t *out);

/* One resource record, owner decompressed, rdata left in place. */
typedef struct {
    pd_dns_name_t owner;
    uint16_t type;
    uint16_t klass;
    uint32_t ttl;
    uint16_t rdlen;
    uint16_t rdata_off; /* offset of the rdata in the message */
} pd_dns_rr_t;

/* The record at r->pos; advances past it. 0, -PD_ETRUNCATED or -PD_EMALFORMED. */
int pd_dns_rr_parse(pd_rbuf_t *r, pd_dns_rr_t *out);

/* A whole message (any direction): every question and record parses, and the rdata of A, AAAA,
 * PTR, SRV, SOA and OPT has exactly its type's shape (names inside it decompress within rdata).
 * Trailing bytes after the last counted record are an error here. 0 or a negative code. */
int pd_dns_msg_check(const uint8_t *msg, size_t len);

/* Checks a wire name for well-formedness (labels <= 63, total <= 255, ends in the root);
 * returns its wire length or a negative code. */
int pd_dns_name_check(const uint8_t *wire, size_t cap);

/* Lowercases ASCII letters; the table is shared by the parser, builder and answerer. */
extern const uint8_t pd_dns_lower[256];
/* Copies a wire name lowercased (len bytes). */
void pd_dns_name_lower(uint8_t *dst, const uint8_t *src, size_t len);

/* ---- builder ----------------------------------------------------------------------------- */

typedef enum { PD_DNS_SEC_AN = 0, PD_DNS_SEC_NS = 1, PD_DNS_SEC_AR = 2 } pd_dns_sec_t;

typedef struct {
    uint16_t off;     /* where a label sequence starts in the message */
    uint8_t nlabels;  /* labels from there to the root */
} pd_dns_comp_t;

typedef struct {
    pd_wbuf_t w;
    size_t reserved;     /* bytes held back from w.cap (room for the OPT record) */
    uint16_t qdcount;
    uint16_t count[3];   /* per pd_dns_sec_t */
    uint8_t sec;         /* sections are written in order */
    uint8_t ncomp;
    pd_dns_comp_t comp[PD_DNS_COMP_MAX];
    const uint8_t *qname; /* the question's name (by address): becomes a pointer to offset 12 */
} pd_dns_builder_t;

typedef struct {
    const uint8_t *mname, *rname; /* wire names */
    uint32_t serial, refresh_s, retry_s, expire_s, minimum_s;
} pd_dns_soa_t;

/* Starts a message in buf (cap bytes, <= 65535 used); the header is written by finish. */
void pd_dns_build_init(pd_dns_builder_t *b, uint8_t *buf, size_t cap);
/* Holds back n bytes from the writable space (for a trailing OPT); release gives them back. */
void pd_dns_build_reserve(pd_dns_builder_t *b, size_t n);
void pd_dns_build_release(pd_dns_builder_t *b);

/* Each writer below is all-or-nothing: it returns 0, or -PD_ETOOBIG and leaves the message as it
 * was (so the caller may set TC and stop). Names are wire names; owner names are compressed.
 * Passing the very pointer given to build_question is the fast path (no suffix search); the
 * buffer it points to must stay unchanged until finish. */
int pd_dns_build_question(pd_dns_builder_t *b, const uint8_t *name, uint16_t qtype,
                          uint16_t qclass);
int pd_dns_build_a(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                   const uint8_t addr[4]);
int pd_dns_build_aaaa(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                      const uint8_t addr[16]);
int pd_dns_build_ptr(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                     const uint8_t *target);
/* The SRV target is written uncompressed (RFC 2782). */
int pd_dns_build_srv(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                     uint16_t priority, uint16_t weight, uint16_t port, const uint8_t *target);
int pd_dns_build_soa(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                     const pd_dns_soa_t *soa);
/* OPT in the additional section: our UDP size, the upper 8 bits of an extended rcode, version,
 * flags (DO). Call release first if room was reserved for it. */
int pd_dns_build_opt(pd_dns_builder_t *b, uint16_t udp_size, uint8_t ext_rcode, uint8_t version,
                     uint16_t flags);
/* Writes the header (id, flags, counts); *out_len gets the message length. 0 or -PD_ETOOBIG. */
int pd_dns_build_finish(pd_dns_builder_t *b, uint16_t id, uint16_t flags, size_t *out_len);

#endif
