"""Offline checks of the deployment files: Dockerfile, docker-compose.yml, deploy/, k8s/.

Nothing here builds an image or talks to a cluster. The compose file is checked with
the compose-spec parser, every Kubernetes object against the official OpenAPI schemas
shipped by kubernetes-validate (strict: unknown fields are errors), and the Prometheus
files structurally (promtool and kustomize are not installed by `make test`).
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from compose_spec import PyCompose, parse_duration

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
DEPLOY = ROOT / "deploy"

# Kubernetes version the manifests are validated against (kubernetes-validate ships
# schemas for 1.25 .. 1.37 in its 1.37 release).
K8S_VERSION = "1.35.0"

SERVICES = ("ingest", "detect", "notify")
METRICS_PORT = 9108
CONFIG_PATH = "/etc/mediawatch/mediawatch.yaml"
STATE_PATH = "/var/lib/mediawatch"
APP_UID = 10001
STATEFUL = {"ingest": "mediawatch-ingest-state", "notify": "mediawatch-notify-state"}


# --- helpers -------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def kustomization() -> dict[str, Any]:
    return load_yaml(K8S / "kustomization.yaml")


def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every object of every manifest in k8s/ (the kustomization itself excluded)."""
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out.extend((path.name, doc) for doc in load_docs(path))
    return out


def deployments() -> dict[str, dict[str, Any]]:
    """Deployments by component (ingest / detect / notify)."""
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for _, d in k8s_objects()
        if d["kind"] == "Deployment"
    }


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def compose_services() -> dict[str, dict[str, Any]]:
    compose = PyCompose.from_yaml(compose_text())
    compose.validate()
    return compose.to_dict()["services"]


def healthcheck(service: dict[str, Any]) -> str:
    """A compose healthcheck test as one string (compose-spec turns CMD-SHELL into a string)."""
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    if buf:
        logical.append(buf)
    out = []
    for line in logical:
        instr, _, args = line.partition(" ")
        out.append((instr.upper(), args.strip()))
    return out


def dockerfile_problems(text: str) -> list[str]:
    """What is wrong with a Dockerfile for mediawatch; empty when it is fine."""
    instrs = dockerfile_instructions(text)
    problems = []
    froms = [a for i, a in instrs if i == "FROM"]
    if not froms or not froms[-1].split()[0] == "python:3.11-slim":
        problems.append("final stage is not FROM python:3.11-slim")
    final = instrs[max(n for n, (i, _) in enumerate(instrs) if i == "FROM") :] if froms else []
    users = [a for i, a in final if i == "USER"]
    if not users:
        problems.append("no USER in the final stage")
    else:
        user = users[-1].split(":")[0]
        if user in ("root", "0"):
            problems.append(f"final USER is root ({users[-1]})")
    entrypoints = [a for i, a in instrs if i == "ENTRYPOINT"]
    if not entrypoints or json.loads(entrypoints[-1]) != ["mediawatch"]:
        problems.append('ENTRYPOINT is not ["mediawatch"]')
    if not any(i == "EXPOSE" and str(METRICS_PORT) in a.split() for i, a in instrs):
        problems.append(f"no EXPOSE {METRICS_PORT}")
    if not any(i == "RUN" and "pip install --no-cache-dir ." in a for i, a in instrs):
        problems.append("project not installed with pip install --no-cache-dir .")
    if not any(i == "COPY" and a.split()[-1].rstrip("/") == "/app/watchlists" for i, a in instrs):
        problems.append("watchlists/ not copied to /app/watchlists")
    return problems


# --- Dockerfile ------------------------------------------------------------------


def test_dockerfile_runs_mediawatch_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile_problems(text) == []
    instrs = dockerfile_instructions(text)
    # The user is numeric (so k8s runAsNonRoot can check it) and the one k8s runs as.
    user = [a for i, a in instrs if i == "USER"][-1]
    assert user.split(":")[0] == str(APP_UID)
    assert [a for i, a in instrs if i == "CMD"][-1] == '["--help"]'


def test_dockerfile_checker_rejects_root_and_wrong_entrypoint() -> None:
    bad = (
        "FROM python:3.11-slim\n"
        "RUN pip install --no-cache-dir .\n"
        "USER root\n"
        'ENTRYPOINT ["python", "-m", "services"]\n'
    )
    problems = dockerfile_problems(bad)
    assert "final USER is root (root)" in problems
    assert 'ENTRYPOINT is not ["mediawatch"]' in problems
    assert "no EXPOSE 9108" in problems
    # A non-root USER in a build stage does not count for the final one.
    staged = "FROM python:3.11-slim AS b\nUSER 1000\nFROM python:3.11-slim\n"
    assert "no USER in the final stage" in dockerfile_problems(staged)


# --- docker-compose.yml ----------------------------------------------------------------


def test_compose_file_is_valid_and_has_all_services() -> None:
    services = compose_services()
    assert set(services) == {"kafka", "ingest", "detect", "notify", "prometheus", "grafana"}


def test_compose_mediawatch_services_run_one_service_each() -> None:
    services = compose_services()
    for name in SERVICES:
        svc = services[name]
        command = svc["command"]
        assert command[0] in SERVICES and command[0] == name, (name, command)
        assert command[1:] == ["--config", CONFIG_PATH]
        assert svc["build"]["context"] == "."
        assert f"./deploy/mediawatch.docker.yaml:{CONFIG_PATH}:ro" in svc["volumes"]
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert parse_duration(svc["stop_grace_period"]) >= 30
        assert "env_file" not in svc
        assert svc["environment"]["KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert f"http://127.0.0.1:{METRICS_PORT}/healthz" in healthcheck(svc)
    assert services["notify"]["environment"]["TELEGRAM_BOT_TOKEN"] == "${TELEGRAM_BOT_TOKEN:-}"
    # ingest and notify keep SQLite state in a named volume; detect keeps none.
    for name in STATEFUL:
        assert f"{name}-state:{STATE_PATH}" in services[name]["volumes"]
    assert not any(STATE_PATH in v for v in services["detect"]["volumes"])


def test_compose_references_resolve() -> None:
    """compose-spec does not check cross references: depends_on, volumes, bind mounts."""
    raw = yaml.safe_load(compose_text())
    services = raw["services"]
    declared_volumes = set(raw.get("volumes") or {})
    for name, svc in services.items():
        deps = svc.get("depends_on") or []
        for dep in deps:
            assert dep in services, f"{name} depends on unknown service {dep}"
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} missing"
            else:
                assert source in declared_volumes, f"{name}: volume {source} not declared"


def test_compose_kafka_is_single_node_kraft() -> None:
    kafka = compose_services()["kafka"]
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert kafka["image"] == "apache/kafka:3.8.0"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node_id}@kafka:")
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    listener_names = {x.split("://")[0] for x in env["KAFKA_LISTENERS"].split(",")}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listener_names
    protocol_map = dict(
        p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert listener_names <= set(protocol_map)
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    # A KRaft cluster id is a 16-byte UUID in URL-safe base64 without padding.
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    assert "kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in healthcheck(kafka)


def test_compose_prometheus_mounts_config_and_rules() -> None:
    prom = compose_services()["prometheus"]
    assert prom["image"].startswith("prom/prometheus")
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prom["volumes"]
    assert "./deploy/alerts.yml:/etc/prometheus/alerts.yml:ro" in prom["volumes"]
    assert any(str(p).startswith("9090") or "9090:9090" in str(p) for p in prom["ports"])


@pytest.mark.parametrize(
    "text",
    [
        # a misspelt key
        "services:\n  ingest:\n    image: mediawatch\n    comand: [ingest]\n",
        # a duration that is not one
        "services:\n  ingest:\n    image: mediawatch\n    stop_grace_period: thirty\n",
        # services must be a mapping
        "services:\n  - ingest\n",
        # a port out of range
        "services:\n  prometheus:\n    image: prom/prometheus\n    ports: [99999999]\n",
    ],
)
def test_compose_spec_rejects_broken_compose(text: str) -> None:
    with pytest.raises(ValueError):
        PyCompose.from_yaml(text).validate()


# --- deploy/mediawatch.docker.yaml and the k8s ConfigMap ------------------------------------


def test_docker_config_has_the_documented_shape() -> None:
    text = (DEPLOY / "mediawatch.docker.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert config["kafka"]["bootstrap"] == "${KAFKA_BOOTSTRAP:-kafka:9092}"
    assert config["storage"]["path"] == STATE_PATH
    assert config["metrics"]["port"] == METRICS_PORT
    assert config["watchlists"] == ["/app/watchlists/*.yaml"]
    assert config["notify"]["console"] is True
    telegram = config["notify"]["telegram"]
    assert telegram["token"] == "${TELEGRAM_BOT_TOKEN:-}"
    assert telegram["chats"] == []
    assert 3 <= len(config["feeds"]) <= 6
    for feed in config["feeds"]:
        assert set(feed) == {"url", "name", "lang", "interval"}
        assert feed["url"].startswith("https://")
        assert re.fullmatch(r"\d+[smh]?", str(feed["interval"]))
    assert {f["lang"] for f in config["feeds"]} >= {"en", "ar"}


def test_container_configs_load_with_the_real_config_model(tmp_path: Path) -> None:
    """Both container configs pass the product's own loader (pydantic, env substitution)."""
    import services.config as config_module

    (configmap,) = load_docs(K8S / "configmap.yaml")
    k8s_file = tmp_path / "mediawatch.yaml"
    k8s_file.write_text(configmap["data"]["mediawatch.yaml"], encoding="utf-8")
    saved = {name: os.environ.pop(name, None) for name in ("KAFKA_BOOTSTRAP", "TELEGRAM_BOT_TOKEN")}
    try:
        docker = config_module.load_config(DEPLOY / "mediawatch.docker.yaml").config
        os.environ["KAFKA_BOOTSTRAP"] = "kafka-0.kafka:9092"
        k8s = config_module.load_config(k8s_file).config
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
    assert docker.kafka.bootstrap == "kafka:9092"
    assert k8s.kafka.bootstrap == "kafka-0.kafka:9092"
    for loaded in (docker, k8s):
        assert loaded.metrics.port == METRICS_PORT
        assert loaded.notify.telegram.token.get_secret_value() == ""  # Telegram off by default


def test_k8s_configmap_is_the_docker_config_with_bootstrap_from_env() -> None:
    (configmap,) = load_docs(K8S / "configmap.yaml")
    assert configmap["kind"] == "ConfigMap"
    k8s_text = configmap["data"]["mediawatch.yaml"]
    docker_text = (DEPLOY / "mediawatch.docker.yaml").read_text(encoding="utf-8")
    expected = docker_text.replace('"${KAFKA_BOOTSTRAP:-kafka:9092}"', '"${KAFKA_BOOTSTRAP}"')
    assert expected != docker_text
    assert k8s_text.rstrip("\n") == expected.rstrip("\n")
    assert yaml.safe_load(k8s_text)["kafka"]["bootstrap"] == "${KAFKA_BOOTSTRAP}"


# --- k8s/ ------------------------------------------------------------------------


def test_kustomization_lists_existing_files_and_not_the_secret_template() -> None:
    kust = kustomization()
    assert kust["namespace"] == "mediawatch"
    resources = kust["resources"]
    for name in resources:
        assert (K8S / name).is_file(), name
    assert "secret.example.yaml" not in resources
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(resources) == on_disk


@pytest.mark.parametrize(
    "name", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_k8s_manifest_validates_against_kubernetes_schema(name: str) -> None:
    docs = load_docs(K8S / name)
    assert docs, name
    for doc in docs:
        kubernetes_validate.validate(doc, desired_version=K8S_VERSION, strict=True)


def test_k8s_objects_are_the_expected_ones() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for _, d in k8s_objects())
    assert kinds == sorted(
        [
            ("Namespace", "mediawatch"),
            ("ConfigMap", "mediawatch-config"),
            ("Secret", "mediawatch-secrets"),
            ("PersistentVolumeClaim", "mediawatch-ingest-state"),
            ("PersistentVolumeClaim", "mediawatch-notify-state"),
            ("Deployment", "mediawatch-ingest"),
            ("Deployment", "mediawatch-detect"),
            ("Deployment", "mediawatch-notify"),
            ("Service", "mediawatch-ingest-metrics"),
            ("Service", "mediawatch-detect-metrics"),
            ("Service", "mediawatch-notify-metrics"),
        ]
    )


def test_deployments_shut_down_gracefully_and_probe_livez_and_healthz() -> None:
    """Liveness on /livez (the process answers), readiness on /healthz (it can do its job):
    a broker outage makes pods unready, never restarts them."""
    deps = deployments()
    assert set(deps) == set(SERVICES)
    for name, dep in deps.items():
        spec = pod_spec(dep)
        assert spec["terminationGracePeriodSeconds"] >= 30, name
        c = container(dep)
        assert c["args"] == [name, "--config", CONFIG_PATH]
        for probe, path in (
            ("startupProbe", "/livez"),
            ("livenessProbe", "/livez"),
            ("readinessProbe", "/healthz"),
        ):
            get = c[probe]["httpGet"]
            assert (get["path"], get["port"]) == (path, METRICS_PORT), (name, probe)
        assert {"containerPort": METRICS_PORT, "name": "metrics", "protocol": "TCP"} in c["ports"]


def test_deployments_run_non_root_with_limits_config_and_secrets() -> None:
    for name, dep in deployments().items():
        spec = pod_spec(dep)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == APP_UID
        c = container(dep)
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory"}, (name, kind)
        env = {e["name"]: e for e in c["env"]}
        assert env["KAFKA_BOOTSTRAP"]["value"], name
        assert {"secretRef": {"name": "mediawatch-secrets", "optional": True}} in c["envFrom"]
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        config_mount = mounts["/etc/mediawatch"]
        assert config_mount.get("readOnly") is True
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes[config_mount["name"]]["configMap"]["name"] == "mediawatch-config"
        # A read-only root filesystem needs every written path on a volume.
        if c["securityContext"].get("readOnlyRootFilesystem"):
            assert {STATE_PATH, "/tmp"} <= set(mounts), name


def test_stateful_deployments_use_pvcs_and_recreate() -> None:
    deps = deployments()
    claims = {
        d["metadata"]["name"] for _, d in k8s_objects() if d["kind"] == "PersistentVolumeClaim"
    }
    for name, claim in STATEFUL.items():
        dep = deps[name]
        assert dep["spec"]["replicas"] == 1, name
        assert dep["spec"]["strategy"]["type"] == "Recreate", name
        volumes = {v["name"]: v for v in pod_spec(dep)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(dep)["volumeMounts"]}
        assert volumes[mounts[STATE_PATH]]["persistentVolumeClaim"]["claimName"] == claim
        assert claim in claims
    detect = deps["detect"]
    assert detect["spec"]["replicas"] == 2
    assert not any("persistentVolumeClaim" in v for v in pod_spec(detect)["volumes"])


def test_metrics_services_select_each_deployment() -> None:
    services = [d for _, d in k8s_objects() if d["kind"] == "Service"]
    covered = set()
    for svc in services:
        assert svc["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        assert svc["metadata"]["annotations"]["prometheus.io/port"] == str(METRICS_PORT)
        (port,) = svc["spec"]["ports"]
        assert port["port"] == METRICS_PORT
        selector = svc["spec"]["selector"]
        matched = [
            name
            for name, dep in deployments().items()
            if selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, (svc["metadata"]["name"], matched)
        covered.update(matched)
    assert covered == set(SERVICES)


def test_deployment_selectors_match_their_pod_labels() -> None:
    for name, dep in deployments().items():
        selector = dep["spec"]["selector"]["matchLabels"]
        assert selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items(), name


def _broken_deployments() -> list[tuple[str, dict[str, Any]]]:
    base = load_yaml(K8S / "detect.yaml")

    def variant(change: Any) -> dict[str, Any]:
        doc = json.loads(json.dumps(base))
        change(doc)
        return doc

    def misspelt_field(d: dict[str, Any]) -> None:
        d["spec"]["template"]["spec"]["terminationGracePeriod"] = 30

    def replicas_as_text(d: dict[str, Any]) -> None:
        d["spec"]["replicas"] = "two"

    def no_containers_image_list(d: dict[str, Any]) -> None:
        d["spec"]["template"]["spec"]["containers"] = {"name": "detect"}

    def probe_port_list(d: dict[str, Any]) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = [9108]

    def no_selector(d: dict[str, Any]) -> None:
        del d["spec"]["selector"]

    return [
        ("misspelt_field", variant(misspelt_field)),
        ("replicas_as_text", variant(replicas_as_text)),
        ("containers_not_a_list", variant(no_containers_image_list)),
        ("probe_port_list", variant(probe_port_list)),
        ("no_selector", variant(no_selector)),
    ]


@pytest.mark.parametrize(
    "label,doc", _broken_deployments(), ids=[b[0] for b in _broken_deployments()]
)
def test_kubernetes_validate_rejects_broken_deployment(label: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(
        load_yaml(K8S / "detect.yaml"), desired_version=K8S_VERSION, strict=True
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, desired_version=K8S_VERSION, strict=True)


def test_secret_template_holds_placeholders_only() -> None:
    (secret,) = load_docs(K8S / "secret.example.yaml")
    assert secret["metadata"]["name"] == "mediawatch-secrets"
    data = secret["stringData"]
    assert set(data) == {"TELEGRAM_BOT_TOKEN", "SLACK_WEBHOOK_URL"}
    assert all("REPLACE" in value for value in data.values())


# --- Prometheus ------------------------------------------------------------------


def test_prometheus_scrapes_the_three_compose_services() -> None:
    config = load_yaml(DEPLOY / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (DEPLOY / rule_file).is_file(), rule_file
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "mediawatch"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:{METRICS_PORT}" for name in SERVICES}
    assert set(SERVICES) <= set(compose_services())


def test_alert_rules_have_the_expected_structure() -> None:
    rules = load_yaml(DEPLOY / "alerts.yml")
    alerts = {}
    for group in rules["groups"]:
        assert group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}
            assert rule["annotations"]["summary"]
            alerts[rule["alert"]] = rule
    assert set(alerts) >= {"MediawatchServiceDown", "MediawatchDeadLetters", "MediawatchFeedErrors"}
    assert re.search(r"\bup\b.*== 0", alerts["MediawatchServiceDown"]["expr"])
    assert (
        "rate(mediawatch_deadletter_messages_total[5m])" in alerts["MediawatchDeadLetters"]["expr"]
    )
    assert (
        "increase(mediawatch_ingest_fetch_errors_total[15m])"
        in alerts["MediawatchFeedErrors"]["expr"]
    )
    # every expression parses and names only exported metrics: tests/test_observability.py
