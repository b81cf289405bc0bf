"""`check` judges what serves traffic, not names (issue 19): each one-file PR below moves traffic to a
build that never passed a step and is refused (exit 1, a FAIL naming the key), and the safe variant
of the same PR passes. Base: a weighted app `shop` at GA 6.13.0 / canary 6.14.1 holding 60%."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from delivery.__main__ import main
from tests.support.stack_repo import GA_TAG, NEW_TAG, STACK, StackRepo, app, stack_text

HOST = "shop.example.com"
FLAGGER: dict[str, Any] = {"namespace": "shop", "strategy": "canary", "image": "ghcr.io/stefanprodan/podinfo"}


def weighted(canary: int = 60, **extra: Any) -> dict:
    return app(canary=canary, hosts=[HOST], **extra)


@pytest.fixture
def pr(tmp_path, capsys):
    """Commit `base` apps, write `head` apps, run `check`: (exit code, stdout)."""

    def run(base: dict, head: dict, delivery: dict | None = None) -> tuple[int, str]:
        path = tmp_path / f"repo{len(list(tmp_path.iterdir()))}"
        path.mkdir()
        repo = StackRepo(path)
        repo.commit(1_700_000_000, "base", stack_text(base, delivery))
        repo.file.write_text(stack_text(head, delivery))
        code = main(["check", "--stack", STACK, "--base", "HEAD", "--project-dir", str(repo.path)])
        return code, capsys.readouterr().out

    return run


def refused(result: tuple[int, str], *texts: str) -> None:
    code, out = result
    assert code == 1, out
    failed = "\n".join(line for line in out.splitlines() if line.strip().startswith("FAIL"))
    assert all(text in failed for text in texts), out


def passed(result: tuple[int, str]) -> None:
    code, out = result
    assert code == 0 and "check passed" in out, out


def flagger(tag: str, **extra: Any) -> dict:
    return {**FLAGGER, "tag": tag, "hosts": [HOST], **extra}


# --- strategy switches ----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["canary", "ab"])
def test_switching_to_flagger_on_the_canarys_tag_is_refused_and_under_a_new_name_on_gas_tag_passes(pr, strategy):
    extra = {"match": [{"header": "cookie", "regex": "insider"}]} if strategy == "ab" else {}
    unsafe = {"shop": {**flagger(NEW_TAG, **extra), "strategy": strategy}}
    refused(
        pr({"shop": weighted()}, unsafe),
        f"apps.shop.tag {GA_TAG} -> {NEW_TAG} (the canary's build, which has not passed every step) "
        "while the canary holds traffic (canary 60 at the base, 0 after this PR)",
    )
    # Under the same name, even on GA's build: one `pulumi up` cannot replace the app's objects by
    # others of the same Kubernetes names.
    same_name = {"shop": {**flagger(GA_TAG, **extra), "strategy": strategy}}
    refused(pr({"shop": weighted(canary=0)}, same_name), "apps.shop.strategy weighted -> " + strategy)
    passed(pr({"shop": weighted(canary=0)}, {"shop2": {**flagger(GA_TAG, **extra), "strategy": strategy}}))


def test_switching_a_flagger_app_to_weighted_with_ga_on_a_new_tag_is_refused(pr):
    base = {"shop": flagger(GA_TAG)}
    refused(
        pr(base, {"shop2": weighted(canary=0, ga_tag=NEW_TAG)}),
        f"apps.shop2.ga.tag {GA_TAG} -> {NEW_TAG} (the traffic of apps.shop): "
        "apps.shop is a Flagger app that never ran",
    )
    passed(pr(base, {"shop2": weighted(canary=0)}))  # GA keeps the build Flagger's primary runs
    refused(pr(base, {"shop2": weighted(canary=10)}), "canary is 10 for an app that is not in the base")
    refused(pr(base, {"shop": weighted(canary=0)}), "apps.shop.strategy canary -> weighted")


def test_switching_canary_and_ab_under_one_name_is_refused(pr):
    ab = {**flagger(GA_TAG, match=[{"header": "cookie", "regex": "insider"}]), "strategy": "ab"}
    refused(pr({"shop": flagger(GA_TAG)}, {"shop": ab}), "apps.shop.strategy canary -> ab")


def test_a_flagger_app_moved_to_another_namespace_on_a_new_tag_is_refused(pr):
    moved = {**flagger(NEW_TAG), "namespace": "shop2"}
    refused(pr({"api": flagger(GA_TAG)}, {"api": moved}), "apps.api is a Flagger app that never ran")
    passed(pr({"api": flagger(GA_TAG)}, {"api": {**flagger(GA_TAG), "namespace": "shop2"}}))


def test_a_new_build_in_the_same_pr_as_an_analysis_change_is_refused(pr):
    relaxed = {"interval": "1m", "threshold": 1, "maxWeight": 100, "stepWeight": 100, "metrics": []}
    refused(
        pr({"api": flagger(GA_TAG)}, {"api": flagger(NEW_TAG, analysis=relaxed)}),
        f"apps.api.tag {GA_TAG} -> {NEW_TAG} in the same PR as a change of apps.api.analysis/match",
    )
    passed(pr({"api": flagger(GA_TAG)}, {"api": flagger(GA_TAG, analysis=relaxed)}))  # the analysis alone
    passed(pr({"api": flagger(GA_TAG)}, {"api": flagger(NEW_TAG)}))  # the build alone


# --- image repository, new canary builds ----------------------------------------------------------


def test_changing_the_image_repository_while_the_canary_holds_traffic_is_refused(pr):
    moved = weighted(image="ghcr.io/acme/other")
    refused(
        pr({"shop": weighted()}, {"shop": moved}),
        "apps.shop.ga: image ghcr.io/stefanprodan/podinfo:6.13.0 -> ghcr.io/acme/other:6.13.0 while the canary",
        "apps.shop.canary runs a new build while the canary holds 60",
    )
    passed(pr({"shop": weighted(canary=0)}, {"shop": {**moved, "weights": {"ga": 100, "canary": 0}}}))


@pytest.mark.parametrize(
    "was, now, ok", [(60, 60, False), (60, 10, True), (60, 0, True), (0, 10, True), (0, 60, False)]
)
def test_a_new_canary_build_restarts_at_the_first_step(pr, was, now, ok):
    result = pr({"shop": weighted(canary=was)}, {"shop": weighted(canary=now, canary_tag="6.14.2")})
    passed(result) if ok else refused(result, "apps.shop")


def test_the_first_step_is_delivery_steps_0(pr):
    delivery = {"steps": [5, 50, 100]}
    refused(pr({"shop": weighted()}, {"shop": weighted(canary=10, canary_tag="6.14.2")}, delivery), "canary 5 or less")
    passed(pr({"shop": weighted()}, {"shop": weighted(canary=5, canary_tag="6.14.2")}, delivery))


# --- renames and host moves -----------------------------------------------------------------------


def test_renaming_an_app_with_ga_on_the_canarys_tag_is_refused(pr):
    refused(
        pr({"shop": weighted()}, {"store": weighted(canary=0, ga_tag=NEW_TAG)}),
        f"apps.store.ga.tag {GA_TAG} -> {NEW_TAG} (the traffic of apps.shop) (the canary's build",
    )
    passed(pr({"shop": weighted()}, {"store": weighted(canary=0)}))


def test_a_renamed_app_without_hosts_is_matched_by_namespace_and_image(pr):
    base = {"shop": app(canary=60)}
    refused(pr(base, {"store": app(canary=0, ga_tag=NEW_TAG)}), "(the traffic of apps.shop)")
    passed(pr(base, {"store": app(canary=0)}))


def test_handing_the_public_host_to_a_new_app_on_the_canarys_tag_is_refused(pr):
    kept = weighted()
    kept_without_host = {**kept, "hosts": []}
    newcomer = {**app(canary=0, ga_tag=NEW_TAG, hosts=[HOST]), "namespace": "web"}
    refused(pr({"shop": kept}, {"shop": kept_without_host, "web": newcomer}), "(the traffic of apps.shop)")
    passed(pr({"shop": kept}, {"shop": kept_without_host, "web": {**newcomer, "ga": {"tag": GA_TAG}}}))


def test_handing_the_host_to_a_new_flagger_app_on_the_canarys_tag_is_refused(pr):
    newcomer = {**flagger(NEW_TAG), "namespace": "web"}
    refused(pr({"shop": weighted()}, {"web": newcomer}), "apps.web.tag")
    passed(pr({"shop": weighted()}, {"web": {**newcomer, "tag": GA_TAG}}))


def test_a_renamed_flagger_app_on_a_new_tag_skips_the_analysis_and_is_refused(pr):
    refused(pr({"api": flagger(GA_TAG)}, {"api2": flagger(NEW_TAG)}), "apps.api is a Flagger app that never ran")
    passed(pr({"api": flagger(GA_TAG)}, {"api2": flagger(GA_TAG)}))
    passed(pr({"api": flagger(GA_TAG)}, {"api": flagger(NEW_TAG)}))  # same app: Flagger analyses the tag


def test_a_new_app_of_its_own_is_not_a_takeover(pr):
    other = {**app(canary=0, ga_tag="1.0.0", canary_tag="1.0.0"), "namespace": "web", "image": "ghcr.io/acme/web"}
    passed(pr({"shop": weighted()}, {"shop": weighted(), "web": other}))


def _with_namespaces(apps: dict, namespaces: dict) -> str:
    data = yaml.safe_load(stack_text(apps))
    data["config"]["istio-canary:namespaces"] = namespaces
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize(
    "was, now, text", [(True, False, "would delete the namespace"), (False, True, "creating it fails")]
)
def test_flipping_who_owns_a_namespace_with_apps_is_refused(tmp_path, capsys, was, now, text):
    repo = StackRepo(tmp_path)
    apps = {"shop": weighted(canary=0)}
    repo.commit(1_700_000_000, "base", _with_namespaces(apps, {"shop": {"create": was}}))
    repo.file.write_text(_with_namespaces(apps, {"shop": {"create": now}}))
    code = main(["check", "--stack", STACK, "--base", "HEAD", "--project-dir", str(repo.path)])
    out = capsys.readouterr().out
    assert code == 1 and f"namespaces.shop.create {str(was).lower()} -> {str(now).lower()}" in out and text in out, out
    repo.file.write_text(_with_namespaces(apps, {"shop": {"create": was}}))
    assert main(["check", "--stack", STACK, "--base", "HEAD", "--project-dir", str(repo.path)]) == 0
