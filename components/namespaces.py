"""The app namespaces: each once, with sidecar injection on, created only after istiod is ready.

Its type token stays `istio-canary:apps:AppNamespaces` (it moved here from apps.py): a new token
would give every namespace a new URN, and Pulumi would replace them and everything in them.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from model.settings import App


class AppNamespaces(pulumi.ComponentResource):
    """Each app namespace once, with sidecar injection on, created only after istiod is ready."""

    def __init__(
        self, name: str, apps: Mapping[str, App], istiod: pulumi.Resource, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istio-canary:apps:AppNamespaces", name, None, opts)
        self._apps = dict(apps)
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for namespace in dict.fromkeys(app.namespace for app in apps.values()):
            self.namespaces[namespace] = k8s.core.v1.Namespace(
                namespace,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels={"istio-injection": "enabled"}),
                # Pods admitted before istiod's injection webhook answers start without a sidecar
                # and stay outside the mesh; every workload is created in one of these namespaces,
                # so waiting here makes each of them wait for istiod.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[istiod]),
            )
        self.register_outputs({"namespaces": {n: ns.metadata.name for n, ns in self.namespaces.items()}})

    @property
    def flagger_namespaces(self) -> dict[str, k8s.core.v1.Namespace]:
        """Namespaces with a Flagger-managed app: each gets a load tester for its webhooks."""
        return {
            app.namespace: self.namespaces[app.namespace]
            for app in self._apps.values()
            if app.strategy in ("canary", "ab")
        }
