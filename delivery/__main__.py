"""`python -m delivery <command>`: offline preview, plan diff, policy check and stack-file edits."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each command lives in its own module with `add_arguments(parser)` and `run(args) -> int`.
COMMANDS = {
    "preview": "delivery.preview",
    "policy": "delivery.policy",
    "diff": "delivery.diff",
    "images": "delivery.images",
    "gate": "delivery.gate",
    "status": "delivery.status",
    "promote": "delivery.promote",
    "rollback": "delivery.rollback",
    "finalize": "delivery.finalize",
    "set-tag": "delivery.set_tag",
    "check": "delivery.check",
    "upgrades": "delivery.upgrades",
    "changed-stacks": "delivery.changed_stacks",
    "verify": "delivery.commands.verify",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.__doc__,
                                            formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
