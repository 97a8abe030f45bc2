/* tlv_spec.h - the TLV examples of the LwM2M Technical Specification (Core, section "TLV",
 * the Device, Access Control, Server and object link examples), as bytes and as the values
 * they carry. Data only, shared by test_tlv.c and usable as fuzz seeds. Where an edition of the
 * specification prints a length that disagrees with the bytes of its own table, the value that
 * matches the table is used and the comment says so. */
#ifndef TLV_SPEC_H
#define TLV_SPEC_H

#include <stdint.h>

#include "data.h"

/* "Single Object Instance Request": Read /3/0 of the Device object, row by row as the
 * specification's table gives it (121 bytes). */
static const uint8_t tlv_spec_device[] = {
    0xC8, 0x00, 0x14, 'O',  'p',  'e',  'n',  ' ',  'M',  'o',  'b',  'i', 'l',
    'e',  ' ',  'A',  'l',  'l',  'i',  'a',  'n',  'c',  'e', /* 0 Manufacturer */
    0xC8, 0x01, 0x16, 'L',  'i',  'g',  'h',  't',  'w',  'e',  'i',  'g', 'h',
    't',  ' ',  'M',  '2',  'M',  ' ',  'C',  'l',  'i',  'e',  'n',  't', /* 1 Model Number */
    0xC8, 0x02, 0x09, '3',  '4',  '5',  '0',  '0',  '0',  '1',  '2',  '3', /* 2 Serial Number */
    0xC3, 0x03, '1',  '.',  '0',                                           /* 3 Firmware Version */
    0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05,                        /* 6 Power Sources */
    0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88,      /* 7 Voltage */
    0x87, 0x08, 0x41, 0x00, 0x7D, 0x42, 0x01, 0x03, 0x84,                  /* 8 Current */
    0xC1, 0x09, 0x64,                                                      /* 9 Battery Level */
    0xC1, 0x0A, 0x0F,                                                      /* 10 Memory Free */
    0x83, 0x0B, 0x41, 0x00, 0x00,                                          /* 11 Error Code */
    0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F,                                    /* 13 Current Time */
    0xC6, 0x0E, '+',  '0',  '2',  ':',  '0',  '0',                         /* 14 UTC Offset */
    0xC1, 0x10, 'U', /* 16 Supported Binding */
};

/* The values of that table, relative to /3/0. */
static const struct {
    const char *rel;
    enum data_type type;
    int64_t i;
    const char *s;
} tlv_spec_device_values[] = {
    {"/0", GW_TYPE_STRING, 0, "Open Mobile Alliance"},
    {"/1", GW_TYPE_STRING, 0, "Lightweight M2M Client"},
    {"/2", GW_TYPE_STRING, 0, "345000123"},
    {"/3", GW_TYPE_STRING, 0, "1.0"},
    {"/6/0", GW_TYPE_INTEGER, 1, NULL},
    {"/6/1", GW_TYPE_INTEGER, 5, NULL},
    {"/7/0", GW_TYPE_INTEGER, 3800, NULL},
    {"/7/1", GW_TYPE_INTEGER, 5000, NULL},
    {"/8/0", GW_TYPE_INTEGER, 125, NULL},
    {"/8/1", GW_TYPE_INTEGER, 900, NULL},
    {"/9", GW_TYPE_INTEGER, 100, NULL},
    {"/10", GW_TYPE_INTEGER, 15, NULL},
    {"/11/0", GW_TYPE_INTEGER, 0, NULL},
    {"/13", GW_TYPE_TIME, 0x5182428F, NULL},
    {"/14", GW_TYPE_STRING, 0, "+02:00"},
    {"/16", GW_TYPE_STRING, 0, "U"},
};

/* "Multiple Object Instance Request", Read /2 of the Access Control object: instances 0 and 2,
 * an ACL multiple resource whose second instance has the 16-bit identifier 310. Some editions
 * print the ACL header of instance 2 as 86 02, one short of the 7 bytes that follow it; the
 * consistent 87 02 is used. */
static const uint8_t tlv_spec_access_control[] = {
    0x08, 0x00, 0x0E, 0xC1, 0x00, 0x01, 0xC1, 0x01, 0x00, 0x83, 0x02, 0x41, 0x7F,
    0x07, 0xC1, 0x03, 0x7F, 0x08, 0x02, 0x12, 0xC1, 0x00, 0x03, 0xC1, 0x01, 0x00,
    0x87, 0x02, 0x41, 0x7F, 0x07, 0x61, 0x01, 0x36, 0x01, 0xC1, 0x03, 0x7F,
};

/* Read /1 of the Server object, one instance: Short Server ID 1, Lifetime 86400, Notification
 * Storing true, Binding "U". The rows add up to 15 bytes; some editions print the instance
 * length as 0x0D, so the consistent 0x0F is used. */
static const uint8_t tlv_spec_server[] = {0x08, 0x00, 0x0F, 0xC1, 0x00, 0x01, 0xC4, 0x01, 0x00,
                                          0x01, 0x51, 0x80, 0xC1, 0x06, 0x01, 0xC1, 0x07, 'U'};

/* The object link examples. Read /66/0: a multiple Objlnk resource {66:0, 66:1}, a String and
 * an Integer. */
static const uint8_t tlv_spec_objlnk_66[] = {
    0x88, 0x00, 0x0C, 0x44, 0x00, 0x00, 0x42, 0x00, 0x00, 0x44, 0x01, 0x00, 0x42,
    0x00, 0x01, 0xC8, 0x01, 0x0D, '8',  '6',  '1',  '3',  '8',  '0',  '0',  '7',
    '5',  '5',  '5',  '0',  '0',  0xC4, 0x02, 0x12, 0x34, 0x56, 0x78};

/* Read /67: two instances of two Strings and an Objlnk, the second the null link 65535:65535.
 * The rows of each instance add up to 0x26 bytes; some editions print 0x23, which is used
 * here as the consistent 0x26. */
static const uint8_t tlv_spec_objlnk_67[] = {
    0x08, 0x00, 0x26, 0xC8, 0x00, 0x0B, 'm', 'y',  'S',  'e',  'r',  'v',  'i',  'c',
    'e',  ' ',  '1',  0xC8, 0x01, 0x0F, 'I', 'n',  't',  'e',  'r',  'n',  'e',  't',
    '.',  '1',  '5',  '.',  '2',  '3',  '4', 0xC4, 0x02, 0x00, 0x43, 0x00, 0x00, /* 67:0 */
    0x08, 0x01, 0x26, 0xC8, 0x00, 0x0B, 'm', 'y',  'S',  'e',  'r',  'v',  'i',  'c',
    'e',  ' ',  '2',  0xC8, 0x01, 0x0F, 'I', 'n',  't',  'e',  'r',  'n',  'e',  't',
    '.',  '1',  '5',  '.',  '2',  '3',  '5', 0xC4, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, /* the null link */
};

#endif
