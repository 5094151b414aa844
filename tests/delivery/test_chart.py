"""The Helm chart: lint, schema validation offline, and the properties a cluster relies on."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import tenantry.core.observability.metrics  # noqa: F401 - registers every series
from tests.delivery.conftest import BIN, CHART, run

PRODUCTION = CHART / "ci" / "production-values.yaml"
VALUE_SETS = {"default": [], "production": ["--values", str(PRODUCTION)]}
# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and newest schema shipped with
# kubernetes-validate; both are bundled with the package, so validation works offline.
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")
# Custom resources have no bundled schema; any other kind without one is a typo in apiVersion.
CUSTOM_KINDS = {"ServiceMonitor"}


def render(helm: Path, *args: str) -> str:
    return run(helm, "template", "tenantry", CHART, "--namespace", "identity", *args)


def manifests(helm: Path, *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(render(helm, *args)) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents}


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_helm_lint_strict(helm: Path, values: str) -> None:
    output = run(helm, "lint", "--strict", CHART, *VALUE_SETS[values])
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize("kubernetes", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_rendered_manifests_validate_strictly(helm: Path, values: str, kubernetes: str) -> None:
    rendered = render(helm, *VALUE_SETS[values])
    output = run(BIN / "kubernetes-validate", "--strict", "-k", kubernetes, "-", stdin=rendered)
    unknown = re.findall(r"Couldn't find schema for kind (\w+)", output)
    assert set(unknown) <= CUSTOM_KINDS, output
    passed = re.findall(r"passed for resource (\S+)", output)
    assert len(passed) + len(unknown) == len([d for d in yaml.safe_load_all(rendered) if d])


def test_pods_run_locked_down_with_probes(helm: Path) -> None:
    deployment = manifests(helm)[("Deployment", "tenantry")]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/tmp"}  # noqa: S108 - the emptyDir that makes a read-only root work
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]
    assert container["image"].endswith(":0.1.0") or "@sha256:" in container["image"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    # The server finishes requests within the pod's grace period, after the preStop delay.
    grace = pod["terminationGracePeriodSeconds"]
    assert 0 < int(env["TENANTRY_SHUTDOWN_TIMEOUT_SECONDS"]) < grace - 5
    assert "PROMETHEUS_MULTIPROC_DIR" not in env
    spread = pod["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }


def test_migrations_run_as_a_hook_before_the_app(helm: Path) -> None:
    rendered = manifests(helm, "--set", "secrets.databaseUrl=postgresql://u:p@db/tenantry")
    job = rendered[("Job", "tenantry-migrate")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["tenantry", "db", "upgrade"]
    # Hooks run before the release's ConfigMap and Secret exist: the job has its own copies,
    # created by an earlier hook weight.
    sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert sources == {"tenantry-migrate"}
    for kind in ("ConfigMap", "Secret"):
        copy = rendered[(kind, "tenantry-migrate")]["metadata"]["annotations"]
        assert copy["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(copy["helm.sh/hook-weight"]) < int(
            job["metadata"]["annotations"]["helm.sh/hook-weight"]
        )
    assert (
        rendered[("Secret", "tenantry-migrate")]["data"] == rendered[("Secret", "tenantry")]["data"]
    )
    # The job's pods must not receive the Service's traffic.
    selector = rendered[("Service", "tenantry")]["spec"]["selector"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= job_labels.items()


def test_existing_secret_replaces_the_charts_secret(helm: Path) -> None:
    rendered = manifests(helm, "--values", str(PRODUCTION))
    assert not [key for key in rendered if key[0] == "Secret"]
    container = rendered[("Deployment", "tenantry")]["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "tenantry-secrets"}} in container["envFrom"]
    job = rendered[("Job", "tenantry-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "tenantry-secrets"}} in job["envFrom"]


def test_production_values_turn_on_scaling_and_monitoring(helm: Path) -> None:
    rendered = manifests(helm, "--values", str(PRODUCTION))
    kinds = {kind for kind, _ in rendered}
    assert {
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "NetworkPolicy",
    } <= kinds
    deployment = rendered[("Deployment", "tenantry")]
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    pod = deployment["spec"]["template"]["spec"]
    env = {item["name"]: item.get("value") for item in pod["containers"][0]["env"]}
    # Two workers per pod: metrics are merged through an in-memory emptyDir.
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/var/run/tenantry/metrics"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["metrics"]["emptyDir"]["medium"] == "Memory"
    monitor = rendered[("ServiceMonitor", "tenantry")]["spec"]["endpoints"][0]
    assert (monitor["port"], monitor["path"]) == ("http", "/metrics")


def test_dashboard_configmap_ships_the_shared_dashboard_file(helm: Path) -> None:
    configmap = manifests(helm)[("ConfigMap", "tenantry-dashboard")]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(configmap["data"]["tenantry.json"])
    assert shipped == json.loads((CHART / "dashboards" / "tenantry.json").read_text())


def test_dashboard_queries_only_series_the_service_exports() -> None:
    dashboard = json.loads((CHART / "dashboards" / "tenantry.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    used = {name for expr in expressions for name in re.findall(r"\btenantry_\w+", expr)}
    exported = {family.name for family in REGISTRY.collect()}
    suffixes = ("_bucket", "_count", "_sum", "_total")
    families = {re.sub(rf"({'|'.join(suffixes)})$", "", name) for name in used}
    assert families <= exported
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("requests", "errors", "latency", "logins", "lockouts", "tenants", "pool"):
        assert topic in titles


def test_a_too_short_grace_period_is_refused(helm: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="terminationGracePeriodSeconds must exceed"):
        render(helm, "--set", "terminationGracePeriodSeconds=8", "--set", "preStopSleepSeconds=5")
