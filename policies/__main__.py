"""The CrossGuard policy pack: `pulumi preview --policy-pack policies`, `pulumi policy publish policies`.

It only builds the PolicyPack from `rules/` (the policies by domain). Constructing a PolicyPack starts
the analyzer's gRPC server and blocks, so nothing imports this file: the offline preview imports `rules`.
"""

from pulumi_policy import PolicyPack

# The CLI runs this directory as a script, with the directory itself on sys.path.
from rules import DEFAULT_ENFORCEMENT_LEVEL, PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=DEFAULT_ENFORCEMENT_LEVEL)
