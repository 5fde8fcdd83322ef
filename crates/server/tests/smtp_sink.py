"""A real SMTP server for the tests (Debian's python3-aiosmtpd).

    /usr/bin/python3 smtp_sink.py --port PORT --dir DIR

Accepts every message and stores it in DIR as NNN.eml (as received) and NNN.txt (the
envelope's recipients, the decoded headers and the plain-text part), each written under a
temporary name and renamed, so a reader never sees half a file. Refuses with a permanent
550 any recipient whose address starts with "rifiuta". Stops on SIGTERM or SIGINT.
"""

import argparse
import email
import email.policy
import itertools
import os
import signal

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("rifiuta"):
            return "550 5.1.1 Destinatario sconosciuto"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        summary = (
            f"Envelope-To: {','.join(envelope.rcpt_tos)}\n"
            f"From: {msg['From']}\n"
            f"To: {msg['To']}\n"
            f"Reply-To: {msg.get('Reply-To', '')}\n"
            f"Subject: {msg['Subject']}\n"
            f"Message-ID: {msg.get('Message-ID', '')}\n"
            f"HTML: {'yes' if html is not None else 'no'}\n"
            "\n"
            f"{plain.get_content() if plain is not None else ''}"
        )
        n = next(self.counter)
        base = os.path.join(self.directory, f"{os.getpid()}-{n:05d}")
        for ext, data in ((".eml", raw), (".txt", summary.encode("utf-8"))):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.rename(base + ext + ".tmp", base + ext)
        return "250 2.0.0 Accettato"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
