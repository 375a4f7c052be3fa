"""A real OAuth 2 client (authlib, not written here) against the local server: the
authorization-code flow with PKCE, refresh rotation, revocation and client credentials, and
the attacks a client can try. Prints one JSON report; the Rust test asserts on it.

    client.py '<json: api, web, user_token, client_id, client_secret, redirect_uri, scope>'
"""
import json
import os
import sys
import urllib.parse

os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # loopback http only: the test server

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError


def consent(p, url, decision="allow"):
    """The browser and the consent page: the person, signed in, allows the request."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    r = requests.post(
        f"{p['api']}/v1/oauth/authorize",
        json=dict(query, decision=decision),
        headers={"Authorization": f"Bearer {p['user_token']}"},
    )
    return r.status_code, r.json()


def error_of(fn):
    try:
        fn()
    except OAuthError as e:
        return e.error
    except Exception as e:  # authlib raises its own types per grant; report the code
        return getattr(e, "error", type(e).__name__)
    return None


def session(p, **kw):
    return OAuth2Session(
        p["client_id"],
        p.get("client_secret"),
        scope=p["scope"],
        redirect_uri=p["redirect_uri"],
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if p.get("client_secret") else "none",
        **kw,
    )


def main():
    p = json.loads(sys.argv[1])
    token_url = f"{p['api']}/v1/oauth/token"
    report = {}
    meta = requests.get(f"{p['api']}/.well-known/oauth-authorization-server").json()
    report["metadata_pkce"] = meta["code_challenge_methods_supported"]

    client = session(p)
    verifier = generate_token(64)
    url, state = client.create_authorization_url(f"{p['web']}/oauth/authorize", code_verifier=verifier)
    status, answer = consent(p, url)
    redirect = answer["redirect_to"]
    report["redirect_has_state_and_iss"] = f"state={state}" in redirect and "iss=" in redirect
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect).query))["code"]
    token = client.fetch_token(token_url, authorization_response=redirect, code_verifier=verifier)
    report["scope"] = token["scope"]
    report["has_refresh"] = "refresh_token" in token
    info = client.get(f"{p['api']}/v1/oauth/userinfo")
    report["userinfo"] = {"status": info.status_code, **(info.json() if info.ok else {})}

    # The code again: refused, and the tokens it gave are revoked.
    again = session(p)
    report["code_reuse"] = error_of(lambda: again.fetch_token(token_url, code=code, code_verifier=verifier))
    report["after_code_reuse_userinfo"] = client.get(f"{p['api']}/v1/oauth/userinfo").status_code

    # A fresh authorization: refresh rotates; the replaced refresh token is theft.
    client = session(p)
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{p['web']}/oauth/authorize", code_verifier=verifier)
    _, answer = consent(p, url)
    first = client.fetch_token(token_url, authorization_response=answer["redirect_to"], code_verifier=verifier)
    rotated = client.refresh_token(token_url, refresh_token=first["refresh_token"])
    report["refresh_rotated"] = rotated["refresh_token"] != first["refresh_token"]
    report["refresh_escalation"] = error_of(
        lambda: session(p).refresh_token(token_url, refresh_token=rotated["refresh_token"], scope=p["scope"] + " messaging-api")
    )
    report["refresh_reuse"] = error_of(lambda: session(p).refresh_token(token_url, refresh_token=first["refresh_token"]))
    report["after_refresh_reuse"] = error_of(lambda: session(p).refresh_token(token_url, refresh_token=rotated["refresh_token"]))

    # R0 -> R1 -> R2, then R0 again: any replaced token, not only the last one, ends the family.
    client = session(p)
    verifier = generate_token(64)
    url, _ = client.create_authorization_url(f"{p['web']}/oauth/authorize", code_verifier=verifier)
    _, answer = consent(p, url)
    r0 = client.fetch_token(token_url, authorization_response=answer["redirect_to"], code_verifier=verifier)
    r1 = session(p).refresh_token(token_url, refresh_token=r0["refresh_token"])
    r2 = session(p).refresh_token(token_url, refresh_token=r1["refresh_token"])
    report["older_refresh_reuse"] = error_of(lambda: session(p).refresh_token(token_url, refresh_token=r0["refresh_token"]))
    report["after_older_refresh_reuse"] = error_of(lambda: session(p).refresh_token(token_url, refresh_token=r2["refresh_token"]))

    # A person's token without `profile` at userinfo: 403 insufficient_scope (RFC 6750 §3.1).
    narrow_p = {**p, "scope": "members:read"}
    narrow = session(narrow_p)
    verifier = generate_token(64)
    url, _ = narrow.create_authorization_url(f"{p['web']}/oauth/authorize", code_verifier=verifier)
    _, answer = consent(narrow_p, url)
    narrow.fetch_token(token_url, authorization_response=answer["redirect_to"], code_verifier=verifier)
    info = narrow.get(f"{p['api']}/v1/oauth/userinfo")
    report["userinfo_without_profile"] = {"status": info.status_code, "www_authenticate": info.headers.get("WWW-Authenticate")}

    # PKCE: a missing and a wrong verifier.
    for name, v in [("missing_verifier", None), ("wrong_verifier", generate_token(64))]:
        c = session(p)
        ver = generate_token(64)
        url, _ = c.create_authorization_url(f"{p['web']}/oauth/authorize", code_verifier=ver)
        _, answer = consent(p, url)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer["redirect_to"]).query))["code"]
        kw = {} if v is None else {"code_verifier": v}
        report[name] = error_of(lambda: OAuth2Session(p["client_id"], p.get("client_secret"), redirect_uri=p["redirect_uri"]).fetch_token(token_url, code=code, **kw))

    # Revocation (RFC 7009): the access token's authorization ends; userinfo says so next time.
    c = session(p)
    ver = generate_token(64)
    url, _ = c.create_authorization_url(f"{p['web']}/oauth/authorize", code_verifier=ver)
    _, answer = consent(p, url)
    t = c.fetch_token(token_url, authorization_response=answer["redirect_to"], code_verifier=ver)
    before = c.get(f"{p['api']}/v1/oauth/userinfo").status_code
    rv = c.revoke_token(f"{p['api']}/v1/oauth/revoke", token=t["access_token"], token_type_hint="access_token")
    report["revoke"] = {"status": rv.status_code, "before": before, "after": c.get(f"{p['api']}/v1/oauth/userinfo").status_code}
    report["refresh_after_revoke"] = error_of(lambda: session(p).refresh_token(token_url, refresh_token=t["refresh_token"]))

    # Client credentials: the application acting in its organization; profile is a person's.
    if p.get("client_secret"):
        m = OAuth2Session(p["client_id"], p["client_secret"])
        cc = m.fetch_token(token_url, grant_type="client_credentials", scope="members:read")
        report["client_credentials"] = {"scope": cc["scope"], "refresh": "refresh_token" in cc}
        report["client_credentials_profile"] = error_of(
            lambda: OAuth2Session(p["client_id"], p["client_secret"]).fetch_token(token_url, grant_type="client_credentials", scope="profile")
        )
        report["wrong_secret"] = error_of(
            lambda: OAuth2Session(p["client_id"], "x" * 43).fetch_token(token_url, grant_type="client_credentials", scope="members:read")
        )
    sys.stdout.write(json.dumps(report))


if __name__ == "__main__":
    main()
