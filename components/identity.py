"""An app's own Kubernetes ServiceAccount and, on GKE, its Workload Identity binding.

GKE's Workload Identity maps the KSA `<ns>/<ksa>` to a Google service account when the KSA is
annotated `iam.gke.io/gcp-service-account: <email>` and the Google account grants
`roles/iam.workloadIdentityUser` to `serviceAccount:<project>.svc.id.goog[<ns>/<ksa>]`
(cloud.google.com/kubernetes-engine/docs/how-to/workload-identity, "Configure applications").
On an `existing` cluster the program manages no Google resources: the KSA and its annotation are
created, and granting the role is the cluster owner's step (the docs give the gcloud command).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from model.settings import App, Gcp

GSA_ANNOTATION = "iam.gke.io/gcp-service-account"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


def workload_identity_member(project: str, namespace: str, ksa: str) -> str:
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{ksa}]"


def app_service_account(
    name: str, app: App, namespace: pulumi.Input[str], gke: Gcp | None, parent: pulumi.Resource
) -> k8s.core.v1.ServiceAccount | None:
    """The app's KSA (named after the app) when it sets `serviceAccount`, else None (the namespace default)."""
    if app.service_account is None:
        return None
    email = app.service_account.gcp_service_account
    account = k8s.core.v1.ServiceAccount(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, annotations={GSA_ANNOTATION: email} if email else None
        ),
        # The pods mount no API token (components/pods.py); nothing else reads one from this account.
        automount_service_account_token=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    if email and gke is not None:
        # Imported here: the GCP SDK is the heaviest import, and a stack on an existing cluster never needs it.
        import pulumi_gcp as gcp

        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=f"projects/{_project_of(email, gke.project)}/serviceAccounts/{email}",
            role=WORKLOAD_IDENTITY_USER,
            member=workload_identity_member(gke.project, app.namespace, name),
            # The identity pool `<project>.svc.id.goog` exists once the cluster does, and this KSA
            # is created through the cluster's provider: waiting for it waits for the cluster.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[account]),
        )
    return account


def _project_of(email: str, default: str) -> str:
    """The project a Google service account lives in: a user-managed account's email names it
    (`NAME@PROJECT.iam.gserviceaccount.com`), which may be another project than the cluster's
    (a shared identity project); other accounts are taken to be in the cluster's project."""
    name, _, domain = email.partition("@")
    project = domain.removesuffix(".iam.gserviceaccount.com")
    return project if project != domain and name else default
