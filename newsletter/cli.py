"""The command line: a thin layer that parses options, loads settings and calls one stage."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter import __version__
from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.config import Settings

log = logging.getLogger("newsletter")

Handler = Callable[[argparse.Namespace], int]


def _load_settings(args: argparse.Namespace) -> Settings:
    from newsletter.config import load_settings

    return load_settings(args.config)


def _cmd_parse(args: argparse.Namespace) -> int:
    import json

    from newsletter.describe import digest_to_json, summarize_digest
    from newsletter.parse import read_digest

    digest = read_digest(args.digest)
    if args.json:
        print(json.dumps(digest_to_json(digest), ensure_ascii=False, indent=2))
    else:
        print(summarize_digest(digest))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from newsletter.pipeline import generate

    settings = _load_settings(args)
    report = generate(settings, digests=args.digests, out=args.out)
    for bad in report.bad:
        print(f"error: {bad.describe()}", file=sys.stderr)
    return 0 if report.ok else 1


def _cmd_serve(args: argparse.Namespace) -> int:
    from newsletter.serve import make_server

    out: Path = args.out or _load_settings(args).feeds.out
    server = make_server(out, host=args.host, port=args.port)
    host, port = server.server_address[:2]
    log.info("serving %s at http://%s:%s/ (Ctrl-C to stop)", out, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
    return 0


def _cmd_send(args: argparse.Namespace) -> int:
    from newsletter.delivery import send_digests
    from newsletter.errors import ConfigError
    from newsletter.status import format_send_report
    from newsletter.subscribers import is_valid_address

    if args.to is not None and not is_valid_address(args.to):
        raise ConfigError(f"--to {args.to!r} is not a valid email address")
    settings = _load_settings(args)
    report = send_digests(
        settings,
        digests=[args.digest] if args.digest else None,
        to=args.to,
        dry_run=args.dry_run,
        outbox=args.out,
        retry_unknown=args.retry_unknown,
    )
    print(format_send_report(report, inbox=settings.input.dir, dry_run=args.dry_run))
    return 1 if report.unsent or report.errors else 0


def _cmd_status(args: argparse.Namespace) -> int:
    import json

    from newsletter.crontime import next_send_due
    from newsletter.status import collect_status, format_status

    settings = _load_settings(args)
    report = collect_status(settings.state.path, next_send_due=next_send_due(settings))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_status(report))
    return 0


def _cmd_unsubscribe(args: argparse.Namespace) -> int:
    from newsletter.status import add_unsubscribe

    settings = _load_settings(args)
    print(add_unsubscribe(settings.state.path, args.address))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from newsletter.schedule import run_scheduler

    return run_scheduler(_load_settings(args))


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Turn daily-arXiv digests into Atom feeds and an HTML email newsletter.",
    )
    parser.add_argument("--version", action="version", version=f"newsletter {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks")
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: `newsletter -v parse X` and `newsletter parse -v X` both work.
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging, tracebacks")
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("-c", "--config", type=Path, help="TOML config (default ./newsletter.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("parse", parents=[common], help="show what the parser sees in a digest")
    p.add_argument("digest", type=Path, metavar="DIGEST")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(handler=_cmd_parse)

    p = sub.add_parser("generate", parents=[common, config], help="write feeds, pages and email")
    p.add_argument("digests", type=Path, nargs="*", metavar="DIGEST")
    p.add_argument("-o", "--out", type=Path, help="output folder (default feeds.out: ./feeds)")
    p.set_defaults(handler=_cmd_generate)

    p = sub.add_parser("serve", parents=[common, config], help="preview the output folder")
    p.add_argument("-o", "--out", type=Path, help="folder to serve (default feeds.out)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.set_defaults(handler=_cmd_serve)

    p = sub.add_parser("send", parents=[common, config], help="mail digests to subscribers")
    p.add_argument("digest", type=Path, nargs="?", metavar="DIGEST")
    p.add_argument("--to", metavar="ADDRESS", help="test send of the unfiltered email to ADDRESS")
    p.add_argument("--dry-run", action="store_true", help="write .eml files, send nothing")
    p.add_argument("-o", "--out", type=Path, default=Path("outbox"), help="folder for --dry-run")
    p.add_argument("--retry-unknown", action="store_true",
                   help="resend messages whose outcome is unknown after a crash")
    p.set_defaults(handler=_cmd_send)

    p = sub.add_parser("status", parents=[common, config], help="digests seen and deliveries")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(handler=_cmd_status)

    p = sub.add_parser("unsubscribe", parents=[common, config], help="never mail ADDRESS again")
    p.add_argument("address", metavar="ADDRESS")
    p.set_defaults(handler=_cmd_unsubscribe)

    p = sub.add_parser("run", parents=[common, config], help="the scheduler (foreground)")
    p.set_defaults(handler=_cmd_run)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("cssutils").setLevel(logging.CRITICAL)
    # APScheduler warns when a poll is skipped because the previous one still runs: by design.
    logging.getLogger("apscheduler").setLevel(logging.ERROR if not verbose else logging.DEBUG)
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    _setup_logging(verbose)
    handler: Handler = args.handler
    try:
        return handler(args)
    except NewsletterError as exc:
        if verbose:
            log.exception("failed")
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout went away (`newsletter parse --json X | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:
        if verbose:
            log.exception("failed")
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
