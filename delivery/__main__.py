"""`python -m delivery <command>`: offline preview, plan diff, policy check and stack-file edits."""

from __future__ import annotations

import argparse
import importlib
import sys

from delivery.errors import DeliveryError

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
    "upgrades": "delivery.commands.upgrades",
    "changed-stacks": "delivery.commands.changed_stacks",
    "autopilot": "delivery.commands.autopilot",
    "verify": "delivery.commands.verify",
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; the one place that turns an error into `error: ...` and its exit status."""
    parser = argparse.ArgumentParser(prog="python -m delivery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        module.add_arguments(
            sub.add_parser(
                name, help=module.HELP, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
            )
        )
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args))
    except DeliveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.status)


if __name__ == "__main__":
    sys.exit(main())
