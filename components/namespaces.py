"""The app namespaces: each once, with sidecar injection on, labelled only after istiod is ready.

A namespace the program creates is a `Namespace` (deleted on destroy, with what it holds). One that
exists already (`default`, or `namespaces.<ns>.create: false`) is a `NamespacePatch`: a server-side
apply of the injection label alone. Creating it as a `Namespace` fails since pulumi-kubernetes 4.29
creates client-side and no longer upserts ("already exists": pulumi/pulumi-kubernetes#4278; this
repository pins 4.34); deleting a Patch relinquishes the fields it applied and leaves the object
in place (pulumi/pulumi-kubernetes#3023 "Patch resources aren't supposed to delete the object",
#2253), so a destroy removes the label, never `default` or a team's namespace.

Its type token stays `istio-canary:apps:AppNamespaces` (it moved here from apps.py): a new token
would give every namespace a new URN, and Pulumi would replace them and everything in them.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from model.settings import Settings

INJECTION = {"istio-injection": "enabled"}


class AppNamespaces(pulumi.ComponentResource):
    """Each app namespace once, with sidecar injection on, created or patched only after istiod is ready."""

    def __init__(
        self, name: str, settings: Settings, istiod: pulumi.Resource, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istio-canary:apps:AppNamespaces", name, None, opts)
        self._apps = dict(settings.apps)
        # Pods admitted before istiod's injection webhook answers start without a sidecar and stay
        # outside the mesh; every workload takes its namespace's name from one of these resources,
        # so waiting here makes each of them wait for istiod, and for the injection label.
        after_istiod = pulumi.ResourceOptions(parent=self, depends_on=[istiod])
        self.namespaces: dict[str, k8s.core.v1.Namespace | k8s.core.v1.NamespacePatch] = {}
        for namespace in dict.fromkeys(app.namespace for app in settings.apps.values()):
            if settings.creates_namespace(namespace):
                self.namespaces[namespace] = k8s.core.v1.Namespace(
                    namespace,
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels=dict(INJECTION)),
                    opts=after_istiod,
                )
            else:
                self.namespaces[namespace] = k8s.core.v1.NamespacePatch(
                    namespace,
                    metadata=k8s.meta.v1.ObjectMetaPatchArgs(name=namespace, labels=dict(INJECTION)),
                    opts=after_istiod,
                )
        self.register_outputs({"namespaces": {n: self.name_of(n) for n in self.namespaces}})

    def name_of(self, namespace: str) -> pulumi.Output[str]:
        """The namespace's name as an output of its resource: what waits for it uses this."""
        metadata = self.namespaces[namespace].metadata
        return metadata.apply(lambda meta: meta.name if meta is not None and meta.name else namespace)

    @property
    def flagger_namespaces(self) -> dict[str, pulumi.Output[str]]:
        """Namespaces whose Flagger apps run load tester commands: each gets a load tester."""
        return {
            app.namespace: self.name_of(app.namespace)
            for app in self._apps.values()
            if app.strategy in ("canary", "ab") and app.uses_loadtester()
        }
