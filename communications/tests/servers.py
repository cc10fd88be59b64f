"""Real local servers for the channel tests: an SMTP server (aiosmtpd) and an HTTP
server standing in for Twilio's API, each on a free port in a thread."""

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "email": message_from_bytes(envelope.content, policy=policy.default),
            }
        )
        return "250 OK"


class SmtpServer:
    """``with SmtpServer(port) as server: ... server.messages``"""

    def __init__(self, port: int):
        self.port = port
        self.inbox = _Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    @property
    def messages(self):
        return self.inbox.messages

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class FakeTwilio:
    """Answers POST .../Messages.json like Twilio; ``status`` and ``body`` set what
    it answers next; ``requests`` holds what arrived (path and form fields)."""

    def __init__(self):
        self.requests = []
        self.status = 201
        self.code = None
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                with outer.lock:
                    outer.requests.append(
                        {
                            "path": self.path,
                            "auth": self.headers.get("Authorization", ""),
                            "form": {k: v[0] for k, v in form.items()},
                        }
                    )
                    number = len(outer.requests)
                    status, code = outer.status, outer.code
                if status < 300:
                    payload = {
                        "sid": f"SM{number:032d}",
                        "status": "queued",
                        "price": "-0.00790",
                        "to": form.get("To", [""])[0],
                        "body": form.get("Body", [""])[0],
                    }
                else:
                    payload = {"code": code, "message": "rejected", "status": status}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
