"""18 block-wise transfers (RFC 7959), done by the gateway itself: a Write larger than a block
goes to the device in blocks (Block1), at the size the device asks for; an answer in blocks is
fetched to its end (Block2); a Send in blocks is put together and published; and block-wise
requests that are malformed or too large get their own error, never a crash (libcoap 4.3.1's
reassembly, no longer used, dereferenced NULL on the empty-blocks sequence below)."""
import base64
import json
import os
import time

import pytest

from conftest import (CF_SENML_JSON, CF_TEXT, OPT_BLOCK1, OPT_CONTENT_FORMAT, OPT_SIZE1,
                      OPT_URI_QUERY, WAIT_TIMEOUT, coap_uint, wait_until)

CF_OPAQUE = 42


@pytest.mark.parametrize("device_block", [None, 256])
def test_a_write_larger_than_a_block_goes_out_in_blocks(gateway, mqtt, raw_device, req,
                                                        device_block):
    gw = gateway()
    d = raw_device(gw.port, "big-write")
    d.register("</5/0>")
    mark = mqtt.mark()
    package = os.urandom(3000)
    r = req("big-write")
    r.send({"id": "w", "op": "write", "path": "/5/0/0", "format": "opaque",
            "value": base64.b64encode(package).decode()})
    d.serve({}, until=lambda: "/5/0/0" in d.written, block1_size=device_block)
    assert d.written["/5/0/0"] == package
    a = r.final("w", mark)
    assert (a["status"], a["code"]) == ("ok", "2.04"), a
    blocks = [b for b in d.request_block1 if b is not None]
    if device_block is None:
        # 1024-byte blocks (szx 6): 1024 + 1024 + 952
        assert blocks == [(0, 1, 6), (1, 1, 6), (2, 0, 6)], blocks
    else:
        # block 0 went at 1024 bytes; the device asked for 256 (szx 4): the next is block 4
        assert blocks == [(0, 1, 6)] + [(n, 1, 4) for n in range(4, 11)] + [(11, 0, 4)], blocks
    # one request, one token, for the whole Write
    puts = [t for (m, p, _, _), t in zip(d.requests, d.request_tokens) if m == "0.03"]
    assert len(set(puts)) == 1, d.requests


LONG_TEXT = ("a manufacturer with a very long name, " * 10).strip()


def read_in_blocks(gateway, mqtt, raw_device, req, ep, until, **broken):
    """A device `ep` answers a Read of /3/0/0 (LONG_TEXT) in 64-byte blocks until `until(d)`,
    broken as `broken` says (RawDevice.serve); returns the device and the final answer."""
    gw = gateway()
    d = raw_device(gw.port, ep)
    d.register("</3/0>")
    mark = mqtt.mark()
    r = req(ep)
    r.send({"id": "r", "op": "read", "path": "/3/0/0"})
    d.serve({"/3/0/0": (LONG_TEXT.encode(), CF_TEXT)}, block_size=64, until=lambda: until(d),
            **broken)
    return gw, d, r.final("r", mark)


def test_a_read_answered_in_blocks_is_fetched_whole(gateway, mqtt, raw_device, req):
    text = LONG_TEXT
    _, d, a = read_in_blocks(
        gateway, mqtt, raw_device, req, "big-read",
        lambda d: len([b for b in d.request_block2 if b]) >= len(text) // 64)
    assert (a["status"], a["value"]) == ("ok", text), a
    # the further blocks were asked for in order, each under a token of its own
    assert [b[0] for b in d.request_block2 if b] == list(range(1, -(-len(text) // 64))), \
        d.request_block2
    assert len(set(d.request_tokens)) == len(d.request_tokens), d.request_tokens


@pytest.mark.parametrize("broken, reason", [
    ({"etag": lambda num: b"v1" if num == 0 else b"v2"},
     "the value changed during the transfer (ETag)"),
    ({"block_skip": 1}, "block 2 (at byte 128) came for byte 64"),
])
def test_a_read_whose_blocks_do_not_fit_together_ends_in_5_02(gateway, mqtt, raw_device, req,
                                                                broken, reason):
    gw, d, a = read_in_blocks(gateway, mqtt, raw_device, req, "torn-read",
                              lambda d: any(b for b in d.request_block2 if b), **broken)
    assert (a["status"], a["code"]) == ("device-error", "5.02"), a
    assert a["error"] == f"block-wise answer unusable: {reason}", a
    assert gw.wait_log(r"request-blocks-broken ep=torn-read op=read ", WAIT_TIMEOUT)
    # the gateway asked for block 1 once, and nothing after the broken answer
    time.sleep(0.5)
    d.serve({}, until=lambda: True)
    assert [b for b in d.request_block2 if b] == [(1, 0, 2)], d.request_block2


def test_a_send_in_blocks_is_put_together_and_published(gateway, mqtt, raw_device, prefix):
    gw = gateway()
    d = raw_device(gw.port, "big-send")
    d.register("</3303/0>")
    senml = [{"bn": "/3303/0/", "n": "5700", "v": 20 + i / 4, "t": 1700000000 + i}
             for i in range(8)]
    payload = json.dumps(senml).encode()
    assert len(payload) > 3 * 64
    answers = d.post_blocks("/dp", payload, CF_SENML_JSON, 64)
    assert [m.code for m in answers] == ["2.31"] * (len(answers) - 1) + ["2.04"], answers
    assert len(answers) == -(-len(payload) // 64)
    topic = f"{prefix}/big-send/data/3303/0/5700"
    assert wait_until(lambda: len(mqtt.on(topic)) == 8, WAIT_TIMEOUT), mqtt.on(topic)
    assert [m.json()["value"] for m in mqtt.on(topic)] == [20 + i / 4 for i in range(8)]


def test_malformed_and_oversized_block_wise_requests_get_their_error(gateway, raw_device):
    gw = gateway()
    d = raw_device(gw.port, "blocker")
    query = [(OPT_URI_QUERY, b"ep=blocker"), (OPT_URI_QUERY, b"lt=300")]

    def block1(num, more, szx):
        return (OPT_BLOCK1, coap_uint((num << 4) | (more << 3) | szx))

    # The sequence that crashed libcoap 4.3.1: a first block with M=1 and nothing in it,
    # then a last block that adds nothing.
    a = d.request("0.02", "/rd", query + [block1(0, 1, 6)])
    assert a is not None and a.code == "4.00" and b"Block1" in a.payload, a
    a = d.request("0.02", "/rd", query + [block1(1, 0, 6)])
    assert a is not None and a.code == "4.08", a
    # a block past the one expected
    a = d.request("0.02", "/rd", query + [(OPT_CONTENT_FORMAT, coap_uint(40)), block1(0, 1, 0)],
                  b"</1/0>,</3/0>,</")
    assert a is not None and a.code == "2.31", a
    a = d.request("0.02", "/rd", query + [(OPT_CONTENT_FORMAT, coap_uint(40)), block1(2, 0, 0)],
                  b"/5/0>")
    assert a is not None and a.code == "4.08", a
    # a body larger than the gateway takes, said up front (Size1)
    a = d.request("0.02", "/rd", query + [(OPT_CONTENT_FORMAT, coap_uint(40)), block1(0, 1, 6),
                                          (OPT_SIZE1, coap_uint(2 << 20))], b"<" * 1024)
    assert a is not None and a.code == "4.13", a
    assert int.from_bytes(a.option_values(OPT_SIZE1)[0], "big") == 1 << 20, a
    # BERT (size exponent 7) is for CoAP over TCP
    a = d.request("0.02", "/rd", query + [block1(0, 1, 7)], b"x" * 1024)
    assert a is not None and a.code == "4.00", a
    assert gw.proc.poll() is None
    assert len(gw.log_lines(r"block-refused address=")) == 5, gw.log()
    # and the device registers, in blocks, as it should have
    links = ",".join(f"</{o}/0>" for o in range(3300, 3340)).encode()
    opts = query + [(OPT_URI_QUERY, b"lwm2m=1.1")]
    got = []
    for num in range(-(-len(links) // 64)):
        more = (num + 1) * 64 < len(links)
        got.append(d.request("0.02", "/rd", opts + [(OPT_CONTENT_FORMAT, coap_uint(40)),
                                                    block1(num, more, 2)],
                             links[num * 64:(num + 1) * 64]))
    assert [m.code for m in got] == ["2.31"] * (len(got) - 1) + ["2.01"], got
    assert got[-1].location and got[-1].location.startswith("/rd/"), got[-1]
    assert gw.wait_log(r" registered ep=blocker ")
