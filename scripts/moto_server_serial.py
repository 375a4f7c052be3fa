"""Run moto's server with one request at a time.

moto's TransactWriteItems deep-copies the table before applying a transaction and restores
that copy when a condition fails. With moto_server's default threaded mode, a failing
transaction can therefore restore a snapshot taken before a concurrent request's writes,
silently undoing them (seen in our concurrent-registration test: two "winners", or a winner
whose items vanished). DynamoDB isolates transactions; serving requests one at a time gives
moto the same observable semantics. Everything else is moto_server as shipped, plus one read-only path for the tests:
`/_switchboard/ses-raw-messages[?to=address]` lists the raw messages moto's SES received
(destinations and MIME text), those naming the address when given, and `/_switchboard/sns-sms-messages` the text messages moto's SNS was asked to
send to phone numbers (moto keeps them but has no endpoint for them). moto's own `/moto-api/data.json` serializes every model instance of every service,
every DynamoDB item included, so reading email through it grows with the whole run.

usage: moto_server_serial.py HOST PORT
"""

import json
import sys
from urllib.parse import parse_qs

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler


SES_RAW = "/_switchboard/ses-raw-messages"
SNS_SMS = "/_switchboard/sns-sms-messages"


def ses_raw_messages(to: str | None) -> list:
    """The raw messages SES received; with `to`, only those that name it (a test reads its own
    emails, not the whole run's, while this single-threaded server makes everyone wait)."""
    from moto.ses.models import ses_backends

    needle = to.lower() if to else None
    out = []
    for _account, regions in ses_backends.items():
        for _region, backend in regions.items():
            for m in backend.sent_messages:
                if not hasattr(m, "raw_data"):
                    continue
                if needle is not None and needle not in m.raw_data.lower():
                    continue
                out.append({"destinations": m.destinations, "raw_data": m.raw_data})
    return out


def sns_sms_messages() -> list:
    from moto.sns.models import sns_backends

    out = []
    for _account, regions in sns_backends.items():
        for _region, backend in regions.items():
            for message_id, (phone, text) in backend.sms_messages.items():
                out.append({"message_id": message_id, "phone_number": phone, "message": text})
    return out


def with_ses_reader(app):
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO")
        if path in (SES_RAW, SNS_SMS):
            to = parse_qs(environ.get("QUERY_STRING", "")).get("to", [None])[0]
            body = json.dumps(ses_raw_messages(to) if path == SES_RAW else sns_sms_messages()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wrapped


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = with_ses_reader(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
