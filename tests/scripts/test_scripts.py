"""The adopter's local path: scripts/kind-up.sh and kind-down.sh (against stand-in docker, kind and
kubectl commands that record what they were asked), and scripts/observe-split.sh (against a real
HTTP server answering like podinfo), plus shellcheck and `bash -n` on every script."""

from __future__ import annotations

import http.server
import itertools
import json
import os
import shutil
import subprocess
import threading

import pytest
import yaml

from tests.support.project import PROJECT_DIR

pytestmark = pytest.mark.slow  # runs the scripts and shellcheck in subprocesses

SCRIPTS = sorted((PROJECT_DIR / "scripts").glob("*.sh"))
BASH = shutil.which("bash")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_scripts_parse_and_pass_shellcheck(script):
    assert subprocess.run([BASH, "-n", str(script)], capture_output=True, text=True).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not found: apt-get install shellcheck")
    result = subprocess.run(
        ["shellcheck", "--severity=style", "--external-sources", script.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


def test_entry_points_are_executable():
    for script in SCRIPTS:
        if script.name != "kind-env.sh":  # sourced, not run
            assert os.access(script, os.X_OK), script.name


# --- kind-up.sh / kind-down.sh ----------------------------------------------------------------

STACK = """\
config:
  istio-canary:cluster:
    provider: existing
    context: {context}
  istio-canary:platform:
    gatewayServiceType: NodePort
{extra}  istio-canary:apps: {{}}
"""

# Stand-ins: each logs its arguments (and kind its stdin, the cluster config) to $TOOL_LOG.
STUB = """#!{bash}
echo "{name} $*" >> "$TOOL_LOG"
case "{name} $1 $2" in
  "kind get clusters") [ -z "${{KIND_CLUSTERS:-}}" ] || echo "$KIND_CLUSTERS" ;;
  "kind version "*) echo "kind v0.32.0 go1.26.3 linux/amd64" ;;
  "kind create cluster") cat >> "$TOOL_LOG" ;;
  "docker info "*) exit "${{DOCKER_INFO_EXIT:-0}}" ;;
  "docker port "*) [ -z "${{DOCKER_PORT:-}}" ] || echo "$DOCKER_PORT" ;;
esac
"""


@pytest.fixture
def tools(tmp_path):
    """A PATH with only what the scripts may use besides the four tools, which are stand-ins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for real in ("awk", "cat", "dirname", "grep"):
        (bin_dir / real).symlink_to(shutil.which(real))

    def run(script: str, stubs=("docker", "kind", "kubectl", "pulumi"), context="kind-demo", extra="", **env):
        for name in stubs:
            stub = bin_dir / name
            stub.write_text(STUB.format(bash=BASH, name=name))
            stub.chmod(0o755)
        stack = tmp_path / "Pulumi.local.yaml"
        stack.write_text(STACK.format(context=context, extra=extra))
        log = tmp_path / "tools.log"
        log.write_text("")
        result = subprocess.run(
            [BASH, str(PROJECT_DIR / "scripts" / script)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": str(bin_dir), "STACK_FILE": str(stack), "TOOL_LOG": str(log), **env},
        )
        return result, log.read_text()

    return run


def created_config(log: str) -> dict:
    return yaml.safe_load(log.split("kind create cluster", 1)[1].split("\n", 1)[1].split("kubectl ", 1)[0])


def test_kind_up_names_every_missing_prerequisite(tools):
    result, log = tools("kind-up.sh", stubs=("kubectl",))
    assert result.returncode == 2 and log == ""
    for tool in ("docker", "kind", "pulumi"):
        assert f"error: {tool} not found: " in result.stderr
    assert "kubectl not found" not in result.stderr


def test_kind_up_creates_the_cluster_the_stack_context_names_with_the_gateway_port_published(tools):
    result, log = tools("kind-up.sh", context="kind-demo", extra="    gatewayNodePort: 31000\n")
    assert result.returncode == 0, result.stderr
    create = next(line for line in log.splitlines() if line.startswith("kind create cluster"))
    assert "--name demo " in create
    image = create.split("--image ", 1)[1].split()[0]
    assert image.startswith("kindest/node:v1.") and "@sha256:" in image and len(image.split("@sha256:")[1]) == 64
    assert created_config(log)["nodes"] == [
        {
            "role": "control-plane",
            "extraPortMappings": [
                {"containerPort": 31000, "hostPort": 8080, "listenAddress": "127.0.0.1", "protocol": "TCP"}
            ],
        }
    ]
    assert "kubectl --context kind-demo get nodes" in log


def test_kind_up_takes_the_host_port_from_the_environment(tools):
    result, log = tools("kind-up.sh", HOST_PORT="9090", HOST_ADDRESS="0.0.0.0")
    assert result.returncode == 0, result.stderr
    mapping = created_config(log)["nodes"][0]["extraPortMappings"][0]
    assert (mapping["hostPort"], mapping["listenAddress"]) == (9090, "0.0.0.0")
    assert mapping["containerPort"] == 30080  # no gatewayNodePort in the stack: the program's default


def test_kind_up_reuses_a_cluster_that_publishes_the_port(tools):
    result, log = tools("kind-up.sh", KIND_CLUSTERS="other\ndemo", DOCKER_PORT="127.0.0.1:8080")
    assert result.returncode == 0, result.stderr
    assert "kind create" not in log and "kind export kubeconfig --name demo" in log
    assert "docker port demo-control-plane 30080/tcp" in log


@pytest.mark.parametrize("published", ["", "127.0.0.1:9090", "0.0.0.0:8080"])
def test_kind_up_refuses_an_existing_cluster_without_the_port_mapping(tools, published):
    result, log = tools("kind-up.sh", KIND_CLUSTERS="demo", DOCKER_PORT=published)
    assert result.returncode == 1
    assert "scripts/kind-down.sh" in result.stderr and "kind create" not in log


def test_kind_up_needs_a_kind_context_in_the_stack(tools):
    result, log = tools("kind-up.sh", context="gke_acme_europe-west1_istio-canary")
    assert result.returncode == 2 and "kind create" not in log
    assert "cluster.context" in result.stderr and "kind-istio-canary" in result.stderr


def test_kind_up_says_when_docker_does_not_answer(tools):
    result, log = tools("kind-up.sh", DOCKER_INFO_EXIT="1")
    assert result.returncode == 3 and "Docker" in result.stderr and "kind create" not in log


def test_kind_down_deletes_the_cluster_once(tools):
    result, log = tools("kind-down.sh", KIND_CLUSTERS="demo")
    assert result.returncode == 0 and "kind delete cluster --name demo" in log
    result, log = tools("kind-down.sh", KIND_CLUSTERS="")
    assert result.returncode == 0 and "delete" not in log and "nothing to delete" in result.stdout


# --- observe-split.sh -------------------------------------------------------------------------


class Podinfo:
    """A local HTTP server answering `/` like podinfo: pretty JSON naming the pod that served it."""

    def __init__(self, pods: list[tuple[str, str]], failures_first: int = 0, status: int = 200):
        self.cycle, self.failures_left, self.status = itertools.cycle(pods), failures_first, status
        self.hosts: list[str] = []
        lock, outer = threading.Lock(), self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with lock:
                    outer.hosts.append(self.headers.get("Host", ""))
                    failing = outer.failures_left > 0
                    outer.failures_left -= failing
                    hostname, version = next(outer.cycle)
                status = 503 if failing else outer.status
                body = json.dumps({"hostname": hostname, "version": version, "revision": "unknown"}, indent=2).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def podinfo():
    if shutil.which("curl") is None:
        pytest.skip("curl not found: apt-get install curl")
    servers = []

    def start(*args, **kwargs) -> Podinfo:
        servers.append(Podinfo(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# 3 of every 10 answers from the canary: a known 70/30 split.
SPLIT_70_30 = [("podinfo-ga-7c9f6d9b8-abcde", "6.13.0")] * 7 + [("podinfo-canary-5d4b9c7f6-fghij", "6.14.1")] * 3


def observe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BASH, str(PROJECT_DIR / "scripts" / "observe-split.sh"), *args], capture_output=True, text=True, timeout=120
    )


def test_observe_split_counts_each_side_and_passes_within_tolerance(podinfo):
    server = podinfo(SPLIT_70_30)
    result = observe("-n", "50", "-c", "30", "-t", "0", server.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["ga", "35", "70.0%"] and lines[2].split() == ["canary", "15", "30.0%"]
    assert "6.13.0 x35, 6.14.1 x15" in result.stdout
    assert server.hosts == ["podinfo.local"] * 50


def test_observe_split_fails_outside_tolerance(podinfo):
    server = podinfo(SPLIT_70_30)
    assert observe("-n", "20", "-c", "40", "-t", "9", server.url).returncode == 1
    assert observe("-n", "20", "-c", "40", "-t", "10", server.url).returncode == 0
    result = observe("-n", "20", "-c", "0", "-t", "0", server.url)
    assert result.returncode == 1 and "expected 0% +/- 0" in result.stderr


def test_observe_split_counts_pods_not_versions(podinfo):
    # After `delivery finalize`, GA and canary run the same tag: only the pod tells them apart.
    server = podinfo([("podinfo-ga-1-a", "6.14.1"), ("podinfo-canary-1-b", "6.14.1")])
    result = observe("-n", "10", "-c", "50", "-t", "0", server.url)
    assert result.returncode == 0, result.stderr
    assert "6.14.1 x10" in result.stdout


def test_observe_split_uses_the_host_header_and_app_given(podinfo):
    server = podinfo([("backend-ga-1-a", "1.0.0"), ("backend-canary-1-b", "1.1.0")])
    assert observe("-n", "4", server.url).returncode == 3  # default app podinfo: strangers
    result = observe("-H", "backend.example.com", "-a", "backend", "-n", "4", "-c", "50", "-t", "0", server.url)
    assert result.returncode == 0, result.stderr
    assert server.hosts[-4:] == ["backend.example.com"] * 4


def test_observe_split_reports_failed_requests(podinfo):
    result = observe("-n", "5", podinfo(SPLIT_70_30, status=503).url)
    assert result.returncode == 3 and "5 requests failed" in result.stderr


def test_observe_split_waits_for_the_app_before_counting(podinfo):
    server = podinfo(SPLIT_70_30, failures_first=1)
    assert observe("-n", "10", server.url).returncode == 3
    server = podinfo(SPLIT_70_30, failures_first=1)
    result = observe("-w", "30", "-n", "10", server.url)
    assert result.returncode == 0, result.stderr
    assert len(server.hosts) >= 12  # one 503, then one answer that ended the wait, then 10 counted


@pytest.mark.parametrize("args", [["-n", "0"], ["-c", "101"], ["-t", "x"], ["-q"], ["a", "b"], ["-n"]])
def test_observe_split_rejects_bad_arguments(args):
    result = observe(*args)
    assert result.returncode == 2 and result.stderr.startswith(("error:", "usage:"))
