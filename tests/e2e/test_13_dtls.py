"""13 DTLS: the coaps listener lets in only the devices it knows (SPEC 2 and 5). PSK by
identity, X.509 certificates checked against a CA with the endpoint bound to the subject CN
(or a cert_endpoints mapping); a credential used for another endpoint gets 4.03 and no
registration; a wrong key never completes the handshake; NoSec can be turned off; the cipher
suites constrained devices offer (CCM_8 among them) are negotiated; no key reaches a log."""
import shutil
import subprocess

import pytest

from conftest import free_udp_port, wait_until

COAP_CLIENT = shutil.which("coap-client-openssl")
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(not COAP_CLIENT or not OPENSSL,
                                reason="coap-client-openssl and openssl are needed")

KEY_TEXT = "s3cr3t-psk-key"
KEY_HEX = KEY_TEXT.encode().hex()


def openssl(*args, cwd=None):
    subprocess.run([OPENSSL, *args], check=True, capture_output=True, cwd=cwd)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, and certificates for dev-x and dev-y signed by it, plus one from another CA."""
    d = tmp_path_factory.mktemp("pki")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=test-ca", "-days", "2",
            "-out", "ca.pem", cwd=d)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "rogue-ca.key", cwd=d)
    openssl("req", "-x509", "-new", "-key", "rogue-ca.key", "-subj", "/CN=rogue", "-days", "2",
            "-out", "rogue-ca.pem", cwd=d)
    for name, ca in (("dev-x", "ca"), ("dev-y", "ca"), ("dev-z", "rogue-ca")):
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key",
                cwd=d)
        openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out",
                f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", cwd=d)
    return d


def security(pki, allow_nosec=True):
    return ("  security: {\n"
            f'    psk = ( {{ endpoint = "dev-1"; identity = "id-1"; key = "hex:{KEY_HEX}"; }} );\n'
            f'    ca_file = "{pki}/ca.pem";\n'
            '    cert_endpoints = ( { cn = "dev-y"; endpoint = "meter-y"; } );\n'
            f"    allow_nosec = {'true' if allow_nosec else 'false'};\n"
            "  };\n")


def start(gateway, pki, allow_nosec=True):
    dport = free_udp_port()
    gw = gateway(lwm2m_conf=security(pki, allow_nosec), coaps_port=dport)
    return gw, dport


def register(port, ep, *cred, scheme="coaps", timeout=8):
    """Registers with coap-client-openssl; returns its last output line (the answer)."""
    p = subprocess.run([COAP_CLIENT, "-m", "post", "-B", str(timeout), "-t", "40", "-e",
                        "</3/0>", *cred, f"{scheme}://127.0.0.1:{port}/rd?ep={ep}&lt=60"],
                       capture_output=True, text=True, timeout=timeout + 5)
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def psk(identity="id-1", key=KEY_TEXT):
    return ("-u", identity, "-k", key)


def cert(pki, name):
    return ("-c", f"{pki}/{name}.pem", "-j", f"{pki}/{name}.key")


def test_psk_registers_its_own_endpoint_only(gateway, pki, mqtt, prefix):
    gw, dport = start(gateway, pki)
    register(dport, "dev-1", *psk())
    mqtt.wait_for(f"{prefix}/dev-1/event", lambda m: m.json()["event"] == "registered")
    out = register(dport, "dev-2", *psk())
    assert "4.03" in out and "does not belong" in out, out
    assert "registered ep=dev-2" not in gw.log()


def test_a_wrong_key_leaves_nothing_behind(gateway, pki, mqtt, prefix):
    gw, dport = start(gateway, pki)
    mark = mqtt.mark()
    out = register(dport, "dev-1", *psk(key="not-the-key"), timeout=2)
    assert "2.01" not in out and "4.0" not in out, out
    assert "registered ep=dev-1" not in gw.log()
    assert not mqtt.on(f"{prefix}/dev-1/event", mark)
    out = register(dport, "dev-1", *psk(identity="nobody"), timeout=2)
    assert "registered ep=dev-1" not in gw.log()
    assert 'dtls-refused identity="nobody"' in gw.log()


def test_x509_binds_the_endpoint_to_the_certificate(gateway, pki, mqtt, prefix):
    gw, dport = start(gateway, pki)
    register(dport, "dev-x", *cert(pki, "dev-x"))
    mqtt.wait_for(f"{prefix}/dev-x/event", lambda m: m.json()["event"] == "registered")
    out = register(dport, "dev-2", *cert(pki, "dev-x"))
    assert "4.03" in out, out
    # cert_endpoints maps the certificate of dev-y to the endpoint meter-y, and only to it.
    assert "4.03" in register(dport, "dev-y", *cert(pki, "dev-y"))
    register(dport, "meter-y", *cert(pki, "dev-y"))
    mqtt.wait_for(f"{prefix}/meter-y/event", lambda m: m.json()["event"] == "registered")
    # A certificate from another CA does not complete the handshake.
    register(dport, "dev-z", *cert(pki, "dev-z"), timeout=2)
    assert "registered ep=dev-z" not in gw.log()


def test_nosec_can_be_turned_off(gateway, pki, mqtt, prefix):
    gw, dport = start(gateway, pki, allow_nosec=False)
    out = register(gw.port, "dev-1", scheme="coap")
    assert "4.03" in out and "NoSec" in out, out
    register(dport, "dev-1", *psk())
    mqtt.wait_for(f"{prefix}/dev-1/event", lambda m: m.json()["event"] == "registered")


@pytest.mark.parametrize("cipher,cred", [
    ("PSK-AES128-CCM8", "psk"),
    ("PSK-AES128-CBC-SHA256", "psk"),
    ("ECDHE-ECDSA-AES128-CCM8", "cert"),
])
def test_the_cipher_suites_of_lwm2m_devices_are_accepted(gateway, pki, cipher, cred):
    gw, dport = start(gateway, pki)
    args = ["-psk_identity", "id-1", "-psk", KEY_HEX] if cred == "psk" else [
        "-cert", f"{pki}/dev-x.pem", "-key", f"{pki}/dev-x.key"]
    p = subprocess.run([OPENSSL, "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{dport}",
                        "-cipher", cipher, *args], input="", capture_output=True, text=True,
                       timeout=10)
    assert f"Cipher    : {cipher}" in p.stdout, p.stdout + p.stderr


def test_no_key_reaches_the_log(gateway, pki):
    gw, dport = start(gateway, pki)
    register(dport, "dev-1", *psk())
    register(dport, "dev-1", *psk(key="wrong-key"), timeout=2)
    log = gw.log()
    for secret in (KEY_TEXT, KEY_HEX, "wrong-key"):
        assert secret not in log


def test_devsim_over_psk_notifies_and_takes_requests(gateway, pki, devsim, mqtt, prefix, tmp_path):
    """Observations and MQTT requests travel over the device's DTLS session."""
    import json
    import paho.mqtt.client as paho
    dport = free_udp_port()
    fleet = tmp_path / "fleet.psk"
    fleet.write_text("".join(f"sec-{i} id-sec-{i} {(KEY_TEXT + str(i)).encode().hex()}\n"
                             for i in range(3)))
    conf = ("  security: {\n"
            f'    psk_file = "{fleet}";\n'
            "  };\n")
    gw = gateway(lwm2m_conf=conf, coaps_port=dport,
                 extra_conf='observe = ( { path = "/3303/0/5700"; pmin = 0; pmax = 1; } );\n')
    mark = mqtt.mark()
    p = devsim.start(f"coaps://127.0.0.1:{dport}", "register", "serve:8", "deregister",
                     count=3, ep_prefix="sec-", rate=5, trace=True,
                     extra=("--psk-file", str(fleet)))
    for i in range(3):
        mqtt.wait_for(f"{prefix}/sec-{i}/data/3303/0/5700", since=mark, timeout=15)
    c = paho.Client(client_id="dtls-req")
    c.connect(mqtt.client._host, mqtt.client._port)
    c.loop_start()
    c.publish(f"{prefix}/sec-1/request", json.dumps({"id": "r", "op": "read",
                                                     "path": "/3/0/0"}), qos=1).wait_for_publish(5)
    m = mqtt.wait_for(f"{prefix}/sec-1/response", since=mark, timeout=15)
    assert m.json()["status"] == "ok", m.json()
    c.loop_stop()
    c.disconnect()
    res = p.wait(30)
    assert res.rc == 0, res
    assert "fleet.psk identities=3" in gw.log() or "identities=3" in gw.log()
