"""`istio-canary <command>` (or `python -m delivery <command>`): offline preview, plan diff and graph,
policy check, release status, checks and stack-file edits."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from delivery.errors import DeliveryError, ExitStatus

# Each command lives in its own module with `add_arguments(parser)` and `run(args) -> ExitStatus`.
COMMANDS = {
    "preview": "delivery.commands.preview",
    "policy": "delivery.commands.policy",
    "diff": "delivery.commands.diff",
    "images": "delivery.commands.images",
    "gate": "delivery.commands.gate",
    "status": "delivery.commands.status",
    "promote": "delivery.commands.promote",
    "rollback": "delivery.commands.rollback",
    "finalize": "delivery.commands.finalize",
    "set-tag": "delivery.commands.set_tag",
    "check": "delivery.commands.check",
    "graph": "delivery.commands.graph",
    "upgrades": "delivery.commands.upgrades",
    "changed-stacks": "delivery.commands.changed_stacks",
    "autopilot": "delivery.commands.autopilot",
    "verify": "delivery.commands.verify",
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser], dict[str, Any]]:
    """The CLI's parser, each command's subparser and each command's module, by command name."""
    prog = "istio-canary" if _script() else "python -m delivery"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules, parsers = {}, {}
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        parsers[name] = sub.add_parser(
            name, help=module.HELP, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(parsers[name])
    return parser, parsers, modules


def _script() -> bool:
    """Whether we run as the installed `istio-canary` console script rather than `python -m delivery`."""
    return Path(sys.argv[0]).name == "istio-canary"


def main(argv: list[str] | None = None) -> int:
    """Run one command; the one place that turns an error into `error: ...` and its exit status."""
    parser, _, modules = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args))
    except DeliveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.status)
    except BrokenPipeError:
        # `istio-canary status | head`: the reader left; not an error of ours (Python docs, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    # The last resort: each path turns its own failures into a DeliveryError; what still
    # escapes is still one line and an exit status, never a traceback.
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error:{where} {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return int(ExitStatus.UNAVAILABLE if exc.errno in (errno.ENOSPC, errno.EIO) else ExitStatus.USAGE)
    except RecursionError:
        print("error: the input is nested too deeply", file=sys.stderr)
        return int(ExitStatus.USAGE)
    except MemoryError:
        print("error: out of memory (an input too large?)", file=sys.stderr)
        return int(ExitStatus.UNAVAILABLE)


def _exit(status: int) -> None:
    """Exit without the interpreter's teardown. The offline engine leaves Pulumi's SDK threads
    and their event loops behind (one loop per thread that resolved an Output under the mocks);
    torn down by the garbage collector at exit, a loop's `__del__` can find its self-pipe gone
    and print a traceback after the command's own message. Nothing else needs the teardown:
    output is flushed here, every file written was closed by its command."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def cli() -> None:
    """The `istio-canary` console script: the same exit path as `python -m delivery`."""
    _exit(main())


if __name__ == "__main__":
    cli()
