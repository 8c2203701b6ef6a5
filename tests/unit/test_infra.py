"""Deployment files (Dockerfiles, infra/compose.yaml, .dockerignore, docs/deploy.md)
checked against the code, without a Docker engine.

Each test reads the real files and the real settings classes, so renaming a setting,
changing a port or a partition count, or adding a service without deploying it fails
here instead of at ``docker compose up``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from faust.types.settings import Settings as FaustSettings

from moodstream_common import topics
from moodstream_dev import requirements, settings_doc
from moodstream_dev.processes import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
FINAL_BASE_IMAGE = "python:3.11-slim"
SECRET_KEY = re.compile(r"PASSWORD|TOKEN|SECRET|API_KEY|CREDENTIAL", re.IGNORECASE)
# ${VAR}, ${VAR:-} (empty default) or ${VAR:?message}: a value that comes from the
# environment or .env, never one written in the compose file.
INTERPOLATED = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-|:?\?[^}]*)?\}$")


# ---- parsing helpers -----------------------------------------------------------------


@dataclass
class Stage:
    """One ``FROM`` stage of a Dockerfile: its image, name and instructions."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        """The argument strings of every ``keyword`` instruction in this stage."""
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """Every ``ENV`` the stage sets (``K=V`` form and legacy ``K V`` form)."""
        found: dict[str, str] = {}
        for args in self.args_of("ENV"):
            words = shlex.split(args)
            if words and "=" not in words[0]:
                found[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                key, _, value = word.partition("=")
                found[key] = value
        return found

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON (exec form) argument list of the last ``keyword`` instruction."""
        args = self.args_of(keyword)
        assert args, f"stage {self.name or self.image} has no {keyword}"
        text = args[-1]
        if keyword == "HEALTHCHECK":
            text = text[text.index("CMD") + len("CMD") :]
        return json.loads(text)


def parse_dockerfile(path: Path) -> list[Stage]:
    """Split ``path`` into stages; ``ARG`` defaults before the first ``FROM`` expanded."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue  # comments (and the syntax directive) may sit inside continuations
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = args.partition("=")
            global_args[name.strip()] = default.strip()
        elif keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=image, name=name))
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def copy_sources(stage: Stage) -> list[tuple[str | None, list[str], str]]:
    """``(from_stage, sources, destination)`` for every ``COPY`` in ``stage``."""
    copies = []
    for args in stage.args_of("COPY"):
        words = args.split()
        from_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        paths = [w for w in words if not w.startswith("--")]
        copies.append((from_stage, paths[:-1], paths[-1]))
    return copies


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """``(negated, regex)`` for every pattern, with Docker's ``*``/``**``/``?`` meaning."""
    patterns = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif line.startswith("**", i):
                regex += ".*"
                i += 2
            elif line[i] == "*":
                regex += "[^/]*"
                i += 1
            elif line[i] == "?":
                regex += "[^/]"
                i += 1
            elif line[i] == "[":
                end = line.index("]", i)
                regex += line[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(line[i])
                i += 1
        patterns.append((negated, re.compile(regex)))
    return patterns


def dockerignored(path: str) -> bool:
    """Whether ``path`` (relative to the repo root) is left out of the build context."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_patterns():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


@cache
def compose() -> dict[str, Any]:
    """infra/compose.yaml as parsed by PyYAML (anchors and ``<<`` merges resolved)."""
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def compose_service(name: str) -> dict[str, Any]:
    """One service's definition in infra/compose.yaml."""
    services = compose()["services"]
    assert name in services, f"{name} is not in {COMPOSE}"
    return services[name]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a dict (both the mapping and the list form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def dockerfile_of(name: str) -> Path:
    """The Dockerfile compose builds ``name`` from (context resolved from infra/)."""
    build = compose_service(name)["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    return context / build.get("dockerfile", "Dockerfile")


def prefix_of(name: str) -> str:
    """The service's settings env prefix, e.g. ``INGEST_``."""
    return str(settings_doc.service_settings()[name].model_config["env_prefix"])


def settings_names(name: str) -> set[str]:
    """Every variable the service's pydantic settings read (nested broker included)."""
    return {var.name for var in settings_doc.all_env_vars(settings_doc.service_settings()[name])}


def code_read_env_names() -> set[str]:
    """Variables read directly with ``os.environ``/``os.getenv`` in libs/ and services/."""
    pattern = re.compile(
        r"os\.(?:environ(?:\.get|\.setdefault)?\s*[\[(]|getenv\s*\()\s*[\"']([A-Z0-9_]+)[\"']"
    )
    names: set[str] = set()
    for folder in (ROOT / "libs", ROOT / "services"):
        for source in folder.rglob("*.py"):
            names.update(pattern.findall(source.read_text()))
    return names


def faust_env_names() -> set[str]:
    """Variables Faust itself reads for its settings (e.g. ``TABLE_STANDBY_REPLICAS``)."""
    return {p.env_name for p in FaustSettings.SETTINGS.values() if getattr(p, "env_name", None)}


def web_port(name: str) -> int:
    """The ``<PREFIX>WEB_PORT`` compose sets for ``name`` (it must set it)."""
    env = environment(compose_service(name))
    key = f"{prefix_of(name)}WEB_PORT"
    assert key in env, f"compose must set {key} for {name}"
    return int(env[key])


def pages(name: str) -> set[str]:
    """The paths the service's views.py serves: its ``@app.page`` views, plus the probes
    and metrics pages that the shared registration helpers add."""
    text = (ROOT / "services" / name / f"moodstream_{name}" / "views.py").read_text()
    found = set(re.findall(r"@app\.page\(\s*[\"']([^\"']+)[\"']", text))
    if re.search(r"register_health_pages\(\s*app\b", text):
        found |= {"/healthz", "/readyz"}
    if re.search(r"register_metrics_page\(\s*app\b", text):
        found.add("/metrics")
    return found


def healthcheck_url(check: dict[str, Any]) -> str:
    """The http:// URL in a compose healthcheck test."""
    test = check["test"]
    text = " ".join(test) if isinstance(test, list) else str(test)
    found = re.search(r"http://[^'\"\s]+", text)
    assert found, f"healthcheck {test!r} has no http:// URL"
    return found.group(0)


def published_ports(service: dict[str, Any]) -> list[tuple[str | None, int]]:
    """``(host_part, container_port)`` for each ``ports`` entry (short or long form)."""
    found = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            found.append((str(entry.get("published")), int(entry["target"])))
            continue
        host, _, container = str(entry).rpartition(":")
        found.append((host or None, int(container.split("/")[0])))
    return found


def one_shot(name: str) -> bool:
    """A job that runs to completion: it says so with an explicit ``restart: "no"``."""
    return compose_service(name).get("restart") == "no"


def env_mappings() -> list[tuple[str, dict[str, str]]]:
    """Every environment mapping in the file: services and ``x-`` extension blocks."""
    found = [(name, environment(svc)) for name, svc in compose()["services"].items()]
    for key, value in compose().items():
        if key.startswith("x-") and isinstance(value, dict):
            found.append((key, {str(k): str(v) for k, v in value.items()}))
    return found


SERVICE_NAMES = list(SERVICES)


# ---- compose ---------------------------------------------------------------------------


def test_compose_defines_the_whole_stack():
    names = set(compose()["services"])
    infrastructure = {"redpanda", "topics", "console", "otel-collector", "jaeger"}
    assert infrastructure <= names, f"missing: {infrastructure - names}"
    assert set(SERVICE_NAMES) <= names, f"services not deployed: {set(SERVICE_NAMES) - names}"


def test_every_service_folder_is_deployed():
    folders = {
        path.name
        for path in (ROOT / "services").iterdir()
        if (path / f"moodstream_{path.name}" / "__main__.py").exists()
    }
    assert folders == set(SERVICE_NAMES)
    assert folders <= set(compose()["services"])


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_service_builds_its_dockerfile_from_the_repo_root(name):
    build = compose_service(name)["build"]
    assert (COMPOSE.parent / build["context"]).resolve() == ROOT
    assert dockerfile_of(name) == ROOT / "services" / name / "Dockerfile"
    assert dockerfile_of(name).is_file()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_compose_env_vars_are_read_by_the_code(name):
    allowed = settings_names(name) | code_read_env_names() | faust_env_names()
    unknown = {
        key
        for key in environment(compose_service(name))
        if key not in allowed and not key.startswith("OTEL_")
    }
    assert not unknown, f"{name}: no code reads {sorted(unknown)}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_services_listen_on_all_interfaces_in_containers(name):
    # The settings default to 127.0.0.1, which nothing outside the container reaches.
    assert environment(compose_service(name))[f"{prefix_of(name)}WEB_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_ports_and_healthcheck_match_the_web_port(name):
    service = compose_service(name)
    port = web_port(name)
    for _host, container_port in published_ports(service):
        assert container_port == port
    exposed = {int(str(p).split("/")[0]) for p in service.get("expose", [])}
    assert published_ports(service) or port in exposed, f"{name} neither publishes nor exposes"
    url = urlsplit(healthcheck_url(service["healthcheck"]))
    assert url.hostname in {"127.0.0.1", "localhost"}
    assert url.port == port
    assert url.path in pages(name), f"{name} serves no {url.path}"


def test_analyzer_can_be_scaled():
    # `--scale analyzer=N` fails on a fixed container name or a fixed host port.
    analyzer = compose_service("analyzer")
    assert "container_name" not in analyzer
    assert not analyzer.get("ports")
    for name in SERVICE_NAMES:
        assert "container_name" not in compose_service(name)


def test_topics_job_creates_the_topics_of_topics_py():
    job = compose_service("topics")
    specs = dict(spec.split(":") for spec in environment(job)["TOPICS"].split())
    expected = {spec.base: spec.partitions for spec in topics.ALL_TOPICS}
    assert {name: int(count) for name, count in specs.items()} == expected
    script = " ".join(job["command"]) if isinstance(job["command"], list) else job["command"]
    assert "rpk topic create" in script and "$$TOPICS" in script


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_services_wait_for_healthy_broker_and_created_topics(name):
    depends = compose_service(name)["depends_on"]
    assert depends["redpanda"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"


def test_every_dependency_condition_matches_what_the_target_offers():
    for name, service in compose()["services"].items():
        for target, rule in (service.get("depends_on") or {}).items():
            condition = rule["condition"]
            if one_shot(target):
                assert condition == "service_completed_successfully", (name, target)
            elif "healthcheck" in compose_service(target):
                assert condition == "service_healthy", (name, target)
            else:
                # Only a target that cannot have a healthcheck may be waited on loosely.
                assert target == "otel-collector", (name, target)
                assert condition == "service_started"


def test_long_running_services_have_healthchecks():
    for name, service in compose()["services"].items():
        if one_shot(name):
            continue
        if name == "otel-collector":
            # The contrib image is FROM scratch: no shell or client to run a check with.
            assert "opentelemetry-collector-contrib" in service["image"]
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name


def test_redpanda_keeps_its_data_on_a_volume():
    redpanda = compose_service("redpanda")
    volumes = [str(v).split(":") for v in redpanda["volumes"]]
    assert ["redpanda-data", "/var/lib/redpanda/data"] in volumes
    assert "redpanda-data" in compose()["volumes"]
    assert "rpk" in " ".join(redpanda["healthcheck"]["test"])


def test_aggregator_state_lives_on_a_named_volume():
    aggregator = compose_service("aggregator")
    data_dir = environment(aggregator)["MOODSTREAM_DATA_DIR"]
    mounts = dict(str(v).split(":")[:2][::-1] for v in aggregator["volumes"])
    assert data_dir in mounts, f"{data_dir} is not a volume"
    assert mounts[data_dir] in compose()["volumes"]


def test_services_share_broker_and_tracing_settings():
    for name in SERVICE_NAMES:
        env = environment(compose_service(name))
        assert env["MOODSTREAM_BROKER_URL"] == "kafka://redpanda:9092"
        assert env["MOODSTREAM_BROKER_FLAVOR"] == "kafka"
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname in compose()["services"]


def test_no_secret_is_written_in_the_compose_file():
    secret_settings = {
        var.name
        for cls in settings_doc.service_settings().values()
        for var in settings_doc.all_env_vars(cls)
        if var.secret
    }
    checked = 0
    for owner, env in env_mappings():
        for key, value in env.items():
            if SECRET_KEY.search(key) or key in secret_settings:
                checked += 1
                assert INTERPOLATED.match(value), f"{owner}: {key} must come from ${{{key}}}"
    assert checked, "no secret variable found: the check above checked nothing"
    assert not re.search(r"(?im)^\s*(password|token|secret)\s*:\s*\S", COMPOSE.read_text())


def test_collector_receives_what_services_send_and_forwards_to_jaeger():
    collector = compose_service("otel-collector")
    mounted = {
        (COMPOSE.parent / str(v).split(":")[0]).resolve(): str(v).split(":")[1]
        for v in collector["volumes"]
    }
    config_path = ROOT / "infra" / "otel-collector.yaml"
    assert config_path in mounted
    assert any(mounted[config_path] in arg for arg in collector["command"])
    config = yaml.safe_load(config_path.read_text())
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    sent_to = urlsplit(environment(compose_service("ingest"))["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert sent_to.hostname == "otel-collector"
    assert int(http.rsplit(":", 1)[1]) == sent_to.port
    traces = config["service"]["pipelines"]["traces"]
    endpoints = [config["exporters"][name]["endpoint"] for name in traces["exporters"]]
    assert any(endpoint.split(":")[0] == "jaeger" for endpoint in endpoints)
    assert 16686 in [port for _host, port in published_ports(compose_service("jaeger"))]


# ---- Dockerfiles -----------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_image_runs_the_service_entry_point(name):
    final = parse_dockerfile(dockerfile_of(name))[-1]
    cmd = final.exec_form("CMD")
    assert cmd[:2] == ["python", "-m"]
    module = cmd[2]
    assert module == f"moodstream_{name}"
    assert importlib.util.find_spec(module) is not None
    assert importlib.util.find_spec(f"{module}.__main__") is not None


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_image_is_multistage_slim_and_non_root(name):
    stages = parse_dockerfile(dockerfile_of(name))
    assert len(stages) >= 2
    final = stages[-1]
    assert final.image == FINAL_BASE_IMAGE
    user = final.args_of("USER")
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    # Only the venv comes from a build stage; the runtime stage installs nothing.
    assert not [args for args in final.args_of("RUN") if "pip install" in args]
    venv_copies = [c for c in copy_sources(final) if c[0] and c[2] == "/opt/venv"]
    assert venv_copies, "the runtime stage must copy /opt/venv from the build stage"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_image_copies_only_its_own_code(name):
    final = parse_dockerfile(dockerfile_of(name))[-1]
    sources = [src for from_stage, srcs, _ in copy_sources(final) if not from_stage for src in srcs]
    assert f"services/{name}/moodstream_{name}" in sources
    assert "libs/common/moodstream_common" in sources
    others = [s for s in sources if s.startswith("services/") and f"services/{name}/" not in s]
    assert not others, f"{name} image copies another service: {others}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_dockerfile_copies_exist_and_are_in_the_build_context(name):
    for stage in parse_dockerfile(dockerfile_of(name)):
        for from_stage, sources, _dest in copy_sources(stage):
            if from_stage:
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist"
                assert not dockerignored(source), f"{name}: COPY {source} is .dockerignored"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_image_exposes_and_probes_the_settings_port(name):
    final = parse_dockerfile(dockerfile_of(name))[-1]
    env = final.env()
    prefix = prefix_of(name)
    default_port = settings_doc.service_settings()[name].model_fields["web_port"].default
    port = int(env.get(f"{prefix}WEB_PORT", default_port))
    assert env[f"{prefix}WEB_HOST"] == "0.0.0.0"
    assert {int(p.split("/")[0]) for a in final.args_of("EXPOSE") for p in a.split()} == {port}
    assert port == web_port(name), "image and compose disagree on the port"
    probe = " ".join(final.exec_form("HEALTHCHECK"))
    assert "/healthz" in probe and "/healthz" in pages(name)
    assert f"{prefix}WEB_PORT" in probe and str(port) in probe


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_image_env_names_are_real_settings(name):
    prefixes = (prefix_of(name), "MOODSTREAM_")
    for stage in parse_dockerfile(dockerfile_of(name)):
        for key in stage.env():
            if key.startswith(prefixes):
                assert key in settings_names(name), f"{name}: no setting reads {key}"


def test_analyzer_builds_its_model_with_the_lock_that_make_test_installs():
    # Only the model build needs the whole lock (torch, flair); no runtime stage has it.
    stages = parse_dockerfile(dockerfile_of("analyzer"))
    runs = [args for stage in stages for args in stage.args_of("RUN")]
    assert any("pip install -r requirements.lock" in run for run in runs)
    copied = [src for stage in stages for _f, srcs, _d in copy_sources(stage) for src in srcs]
    assert "requirements.lock" in copied
    # The same lock `make test` installs: the Makefile's install stamp runs install.sh,
    # which installs requirements.lock.
    makefile = (ROOT / "Makefile").read_text()
    stamp_rule = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert stamp_rule and "requirements.lock" in stamp_rule.group(1)
    assert "scripts/install.sh" in stamp_rule.group(2)
    assert "-r requirements.lock" in (ROOT / "scripts" / "install.sh").read_text()


def test_analyzer_image_builds_its_model_at_build_time():
    stages = parse_dockerfile(dockerfile_of("analyzer"))
    final = stages[-1]
    model_path = final.env()["ANALYZER_MODEL_PATH"]
    building = [
        (stage, run)
        for stage in stages[:-1]
        for run in stage.args_of("RUN")
        if "python -m moodstream_model" in run
    ]
    assert building, "no build stage runs python -m moodstream_model (make model)"
    stage, run = building[0]
    out = re.search(r"--out\s+(\S+)", run)
    assert out and out.group(1) == model_path
    copies = [(srcs, d) for f, srcs, d in copy_sources(final) if f == stage.name]
    copied = {Path(src).name for srcs, dest in copies for src in srcs
              if dest.rstrip("/") == model_path}
    # The ONNX backend's files only: the flair weights stay in the build stage.
    assert copied == {"model.onnx", "tokenizer.json", "metadata.json"}
    assert importlib.util.find_spec("moodstream_model.build") is not None
    # Nothing at run time may go looking for weights on a hub.
    assert final.env().get("HF_HUB_OFFLINE") == "1"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_runtime_installs_only_the_packages_its_service_imports(name):
    stages = parse_dockerfile(dockerfile_of(name))
    final = stages[-1]
    venv_from = [f for f, _srcs, dest in copy_sources(final) if dest.rstrip("/") == "/opt/venv"]
    assert len(venv_from) == 1
    installing = next(stage for stage in stages if stage.name == venv_from[0])
    runs = " ".join(installing.args_of("RUN"))
    assert "--no-deps -r /src/requirements.txt" in runs and "requirements.lock" not in runs
    assert any(f"services/{name}/requirements.txt" in srcs
               for _f, srcs, _d in copy_sources(installing))
    pinned = (ROOT / "services" / name / "requirements.txt").read_text()
    # Up to date with the lock (regenerate: python -m moodstream_dev.requirements NAME).
    assert pinned == requirements.requirements_text(name)
    names = {line.split("==")[0] for line in pinned.splitlines() if "==" in line}
    assert not names & {"torch", "flair", "transformers", "onnx"}, "model building only"
    assert ("onnxruntime" in names) == (name == "analyzer"), "only the analyzer serves a model"
    lock = (ROOT / "requirements.lock").read_text().lower().replace("_", "-")
    for line in pinned.splitlines():
        if "==" in line:
            assert line.lower() in lock, f"{line} is not the lock's version"


def test_aggregator_image_vendors_the_dashboard_in_a_node_stage():
    stages = parse_dockerfile(dockerfile_of("aggregator"))
    node = [s for s in stages if s.image.startswith("node:")]
    assert node and any("scripts/vendor_dashboard.sh" in run for run in node[0].args_of("RUN"))
    script = (ROOT / "scripts" / "vendor_dashboard.sh").read_text()
    dest = re.search(r"^DEST=(\S+)", script, re.MULTILINE)
    assert dest
    vendored = [(srcs, d) for f, srcs, d in copy_sources(stages[-1]) if f == node[0].name]
    assert vendored and vendored[0][0][0].endswith(dest.group(1))
    assert vendored[0][1].rstrip("/").endswith("moodstream_aggregator/static/vendor")


# ---- .dockerignore ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "tests/unit/test_infra.py",
        ".venv/bin/python",
        "var/state/aggregator/x.db",
        "models/sentiment-v2/metadata.json",
        "bench/results/throughput.json",
        ".git/HEAD",
        "test-artifacts/report.html",
        "infra/.env",
        "services/aggregator/dashboard/node_modules/chart.js/package.json",
        "services/ingest/moodstream_ingest/__pycache__/app.cpython-311.pyc",
    ],
)
def test_dockerignore_leaves_out(path):
    assert dockerignored(path)


@pytest.mark.parametrize(
    "path",
    [
        "requirements.lock",
        "libs/common/moodstream_common/settings.py",
        "services/ingest/moodstream_ingest/app.py",
        "services/analyzer/moodstream_analyzer/agents.py",
        "services/aggregator/moodstream_aggregator/static/dashboard.html",
        "services/aggregator/dashboard/package-lock.json",
        "scripts/vendor_dashboard.sh",
    ],
)
def test_dockerignore_keeps(path):
    assert not dockerignored(path)


# ---- docs/deploy.md --------------------------------------------------------------------


def test_readme_has_the_current_settings_table():
    document = (ROOT / "README.md").read_text()
    assert settings_doc.current_table(document) == settings_doc.render_table(), (
        "README.md is stale: python -m moodstream_dev.settings_doc --write README.md"
    )


def test_settings_table_lists_every_setting_without_secret_values(monkeypatch):
    monkeypatch.setenv("INGEST_API_TOKEN", "not-in-the-table")
    table = settings_doc.render_table()
    for cls in settings_doc.service_settings().values():
        for var in settings_doc.all_env_vars(cls):
            assert f"| `{var.name}` |" in table
    assert "not-in-the-table" not in table
    row = next(line for line in table.splitlines() if "`INGEST_API_TOKEN`" in line)
    assert "*(empty)*" in row and "Secret." in row


def test_settings_table_follows_field_descriptions():
    table = settings_doc.render_table()
    for var in settings_doc.all_env_vars(settings_doc.service_settings()["aggregator"]):
        row = next(line for line in table.splitlines() if f"`{var.name}`" in line)
        assert var.description.replace("|", "\\|") in row


def test_replace_table_rewrites_only_between_the_markers():
    document = f"intro\n{settings_doc.BEGIN}\nold\n{settings_doc.END}\noutro\n"
    updated = settings_doc.replace_table(document, "| new |\n")
    assert updated.startswith("intro\n") and updated.endswith("outro\n")
    assert settings_doc.current_table(updated) == "| new |\n"
    with pytest.raises(ValueError):
        settings_doc.replace_table("no markers", "| new |\n")


def test_readme_explains_scaling_out():
    document = (ROOT / "README.md").read_text()
    section = document.split("## Scaling out", 1)
    assert len(section) == 2, "README.md needs a '## Scaling out' section"
    section = [section[0], section[1].split("\n## ", 1)[0]]
    for term in (
        "table_standby_replicas",
        "MOODSTREAM_BROKER_SECURITY_PROTOCOL",
        "MOODSTREAM_BROKER_SASL_MECHANISM",
        "MOODSTREAM_BROKER_SASL_USERNAME",
        "MOODSTREAM_BROKER_SASL_PASSWORD",
        "--scale analyzer=",
    ):
        assert term in section[1], f"'Scaling out' does not mention {term}"
    for spec in topics.ALL_TOPICS:
        assert f"`{spec.base}`" in section[1]


def test_every_phony_make_target_exists():
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert phony is not None
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):", makefile, re.MULTILINE))
    missing = [name for name in phony.group(1).split() if name not in targets]
    assert not missing, f".PHONY names targets the Makefile does not define: {missing}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_package_a_service_imports_is_in_its_image(name):
    # A new import needs its package in pyproject's group for the service, or the image
    # built from services/<name>/requirements.txt fails at start-up.
    import ast
    import importlib.metadata
    import sys as _sys

    own = {"moodstream_common", f"moodstream_{name}", "__future__"}
    modules: set[str] = set()
    for folder in (ROOT / "libs" / "common" / "moodstream_common",
                   ROOT / "services" / name / f"moodstream_{name}"):
        for path in folder.rglob("*.py"):
            if path.name == "flair_model.py":  # ANALYZER_BACKEND=flair: a dev checkout only
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module.split(".")[0])
    third_party = modules - own - set(_sys.stdlib_module_names)
    installed = set(requirements.closure(requirements.runtime_packages(name)))
    providers = importlib.metadata.packages_distributions()
    missing = {
        module for module in third_party
        if not {requirements.canonical(d) for d in providers.get(module, [])} & installed
    }
    assert not missing, f"{name} imports {sorted(missing)}, which its image does not install"
