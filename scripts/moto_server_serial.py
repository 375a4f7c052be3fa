"""Run moto's server with one request at a time.

moto's TransactWriteItems deep-copies the table before applying a transaction and restores
that copy when a condition fails. With moto_server's default threaded mode, a failing
transaction can therefore restore a snapshot taken before a concurrent request's writes,
silently undoing them (seen in our concurrent-registration test: two "winners", or a winner
whose items vanished). DynamoDB isolates transactions; serving requests one at a time gives
moto the same observable semantics. Everything else is moto_server as shipped.

usage: moto_server_serial.py HOST PORT
"""

import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
