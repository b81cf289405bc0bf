"""Every GCP name the cluster component derives is valid and distinct, for every cluster name the
settings accept: service account ids are 6-30 characters of `[a-z]([-a-z0-9]*[a-z0-9])` (IAM
`projects.serviceAccounts.create`), compute names RFC 1035 labels of at most 63 characters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.cluster import node_service_account_id
from model.settings import ConfigError, parse

SERVICE_ACCOUNT_ID = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])")
RFC1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# Pulumi's auto-name: the logical name, `-` and 7 random hex digits (pulumi.com/docs "Resource names").
AUTONAME_SUFFIX = len("-0123abc")


def accepted(name: str) -> bool:
    """Whether the settings accept `name` as `cluster.name` (the parser's own rule, not a copy)."""
    config = {
        "istio-canary:cluster": {
            "provider": "gke",
            "name": name,
            "location": "europe-west1-b",
            "masterAuthorizedNetworks": ["203.0.113.0/24"],
        },
        "gcp:project": "acme-istio-canary",
    }
    try:
        parse(config)
    except ConfigError:
        return False
    return True


cluster_names = st.from_regex(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?", fullmatch=True).filter(accepted)


def valid_account_id(account_id: str) -> bool:
    return 6 <= len(account_id) <= 30 and bool(SERVICE_ACCOUNT_ID.fullmatch(account_id))


@settings(max_examples=500, deadline=None)
@given(cluster_names)
def test_the_node_service_account_id_is_valid_for_every_accepted_cluster_name(name):
    assert valid_account_id(node_service_account_id(name)), name


@settings(max_examples=500, deadline=None)
@given(cluster_names, cluster_names)
def test_two_cluster_names_never_share_a_node_service_account(a, b):
    if a != b:
        assert node_service_account_id(a) != node_service_account_id(b), (a, b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("a" * 29, "a" * 28 + "b"),  # 29 characters: the old cut ended in `-`
        ("a" * 30 + "x", "a" * 30 + "y"),  # the old cut kept the first 30: one account for both
        ("a" * 25, "a" * 25 + "-n"),  # `<25>-node` against a longer name starting with it
        ("p" * 28, "p" * 28 + "-n"),
        ("c" * 40, "c" * 39 + "d"),
    ],
)
def test_names_that_shared_or_broke_an_id_before_get_distinct_valid_ids(a, b):
    assert accepted(a) and accepted(b)
    ids = node_service_account_id(a), node_service_account_id(b)
    assert all(valid_account_id(i) for i in ids) and ids[0] != ids[1], ids


def test_ids_of_names_up_to_28_characters_stay_as_deployed():
    # A new account id replaces the account, and the node pool that runs as it.
    assert node_service_account_id("istio-canary") == "istio-canary-nodes"
    assert node_service_account_id("a" * 26) == "a" * 26 + "-nod"


@pytest.mark.parametrize("name", ["istio-canary", "a" * 29, "z" + "-9" * 19 + "z"])
def test_the_plan_names_every_gcp_resource_validly(render_config, name):
    def rename(config):
        config["istio-canary:cluster"]["name"] = name

    assert accepted(name)
    plan = render_config(rename)
    gcp = [r for r in plan.resources if r["type"].startswith("gcp:") and not r["type"].startswith("gcp:projects/")]
    account = next(r for r in gcp if r["type"] == "gcp:serviceaccount/account:Account")
    assert account["inputs"]["accountId"] == node_service_account_id(name)
    for r in gcp:
        explicit = r["inputs"].get("name")
        if r["type"] in ("gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool"):
            continue  # the cluster is `cluster.name` itself; the pool, its logical name in the cluster
        if r["type"] == "gcp:serviceaccount/account:Account":
            continue
        # Compute objects (network, subnet, router, NAT, firewall) are auto-named, so a stack never
        # reuses another's: a valid label however long the cluster name.
        assert explicit is None, r["urn"]
        assert RFC1035.fullmatch(r["name"]) and len(r["name"]) + AUTONAME_SUFFIX <= 63, r["urn"]
    assert {r["type"].split(":")[-1] for r in gcp} >= {"Network", "Subnetwork", "Router", "RouterNat", "Firewall"}
