"""A test identity provider: SAML 2.0 responses signed by signxml (an XML-signature
implementation independent of this project's), valid and attacked, for the verifier's tests.

    idp.py <key.pem> <cert.pem> '<json params>'   ->  base64 SAMLResponse on stdout
    idp.py --parse-request <redirect URL>         ->  the AuthnRequest's fields as JSON

params: acs, audience, issuer, in_response_to, name_id, now (epoch s), attack (optional),
attributes (optional {name: [values]}), sign ("assertion" | "response").
"""
import base64
import copy
import datetime as dt
import json
import sys
import uuid

from lxml import etree
from signxml import XMLSigner, methods

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}


def t(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(p, assertion_id):
    now = p["now"]
    until = now + 300
    if p.get("attack") == "expired":
        now, until = now - 3600, now - 1800
    audience = "https://elsewhere.example/sp" if p.get("attack") == "wrong_audience" else p["audience"]
    attrs = "".join(
        f'<saml:Attribute Name="{k}">' + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in vs) + "</saml:Attribute>"
        for k, vs in p.get("attributes", {}).items()
    )
    xml = f"""<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_r{uuid.uuid4().hex}" Version="2.0" IssueInstant="{t(now)}" Destination="{p['acs']}" InResponseTo="{p['in_response_to']}"><saml:Issuer>{p['issuer']}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{t(now)}"><saml:Issuer>{p['issuer']}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{p['name_id']}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{t(until)}" Recipient="{p['acs']}" InResponseTo="{p['in_response_to']}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{t(now - 5)}" NotOnOrAfter="{t(until)}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{t(now)}" SessionIndex="_s{uuid.uuid4().hex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion></samlp:Response>"""
    return etree.fromstring(xml.encode())


class LegacySigner(XMLSigner):
    """Signs with SHA-1 too (signxml refuses it by default), for the test that it is refused."""

    def check_deprecated_methods(self):
        pass


def sign(el, key, cert, algorithm="rsa-sha256", digest="sha256"):
    signer = LegacySigner(
        method=methods.enveloped,
        signature_algorithm=algorithm,
        digest_algorithm=digest,
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    return signer.sign(el, key=key, cert=cert, reference_uri=el.get("ID"))


def parse_request(url):
    """The AuthnRequest in an HTTP-Redirect URL, read as the provider would."""
    import urllib.parse
    import zlib

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    req = etree.fromstring(xml)
    assert req.tag == f"{{{SAMLP}}}AuthnRequest", req.tag
    out = {
        "id": req.get("ID"),
        "acs": req.get("AssertionConsumerServiceURL"),
        "destination": req.get("Destination"),
        "issuer": req.find("saml:Issuer", NS).text,
        "relay_state": query.get("RelayState", [None])[0],
    }
    sys.stdout.write(json.dumps(out))


def main():
    if sys.argv[1] == "--parse-request":
        return parse_request(sys.argv[2])
    key = open(sys.argv[1], "rb").read()
    cert = open(sys.argv[2], "rb").read()
    p = json.loads(sys.argv[3])
    attack = p.get("attack")
    aid = "_a" + uuid.uuid4().hex
    if attack == "comment":
        # Signed for the whole address; a comment is slipped in after signing, which the
        # signature (without comments) does not see. A reader taking the first text node
        # would see only the victim's address.
        p = dict(p, name_id=p["name_id"] + ".evil.test")
    response = build(p, aid)
    algorithm, digest = ("rsa-sha1", "sha1") if attack == "sha1" else ("rsa-sha256", "sha256")
    assertion = response.find("saml:Assertion", NS)
    if attack == "unsigned":
        out = response
    elif p.get("sign") == "response":
        out = sign(response, key, cert, algorithm, digest)
    else:
        signed = sign(assertion, key, cert, algorithm, digest)
        response.replace(assertion, signed)
        out = response
    a = out.find("saml:Assertion", NS)
    name_id = a.find("saml:Subject/saml:NameID", NS)
    if attack == "tampered":
        name_id.text = "someone.else@" + name_id.text.split("@", 1)[1]
    elif attack == "comment":
        victim = p["name_id"][: -len(".evil.test")]
        name_id.text = victim
        comment = etree.Comment("")
        comment.tail = ".evil.test"
        name_id.append(comment)
    elif attack == "wrap_duplicate_id":
        # XSW: an evil assertion with the signed one's ID first; the signed one hidden after it.
        evil = copy.deepcopy(a)
        evil.remove(evil.find("ds:Signature", NS))
        evil.find("saml:Subject/saml:NameID", NS).text = p["victim"]
        ext = etree.SubElement(out, f"{{{SAMLP}}}Extensions")
        out.remove(a)
        ext.append(a)
        out.insert(2, evil)
    elif attack == "extra_assertion":
        evil = copy.deepcopy(a)
        evil.remove(evil.find("ds:Signature", NS))
        evil.set("ID", "_evil" + uuid.uuid4().hex)
        evil.find("saml:Subject/saml:NameID", NS).text = p["victim"]
        out.insert(2, evil)
    sys.stdout.write(base64.b64encode(etree.tostring(out)).decode())


if __name__ == "__main__":
    main()
