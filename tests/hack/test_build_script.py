"""hack/build.sh and the make targets that drive it.

There is no Docker engine here (and no buildx plugin), so builds are checked two ways: ``DRY_RUN=1`` output
is compared with the exact buildx commands expected, and real runs go through a stand-in ``docker``
executable placed first on PATH that records its arguments (it fakes only the Docker CLI, which cannot
build anything here).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.hack.images import ROOT, load_images, project_version

pytestmark = pytest.mark.integration

CREATE = "docker buildx create --name dayu-buildx --driver docker-container --bootstrap"
ENSURE = f"docker buildx inspect dayu-buildx >/dev/null 2>&1 || {CREATE}"
BUILD = "docker buildx build --builder dayu-buildx --file hack/docker/Dockerfile"
CPU = "linux/amd64,linux/arm64"


def run(args: list[str], env: dict[str, str] | None = None, /, **extra: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("REG", "REPO", "TAG", "OUTPUT", "PLATFORMS", "DRY_RUN")}
    full.update(env or {})
    full.update(extra)
    return subprocess.run(args, cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


def dry(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["bash", "hack/build.sh", *args], DRY_RUN="1", **env)


def cpu_build(name: str, ref: str, output: str = "--push", platforms: str = CPU) -> str:
    return f"{BUILD} --target {name} --platform {platforms} --build-arg VARIANT=cpu --tag {ref} {output} ."


def test_make_build_prints_the_buildx_commands_with_defaults() -> None:
    result = run(["make", "-s", "build", "WHAT=generator,controller", "DRY_RUN=1"])
    assert result.returncode == 0, result.stderr
    version = project_version()
    assert result.stdout.splitlines() == [
        ENSURE,
        cpu_build("generator", f"docker.io/dayuhub/generator:{version}"),
        cpu_build("controller", f"docker.io/dayuhub/controller:{version}"),
    ]


def test_reg_repo_tag_choose_the_reference() -> None:
    result = run(
        ["make", "-s", "build", "WHAT=scheduler", "DRY_RUN=1", "REG=192.168.1.10:5000", "REPO=lab/dayu", "TAG=v2"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == cpu_build("scheduler", "192.168.1.10:5000/lab/dayu/scheduler:v2")


def test_gpu_and_jetson_variants_have_their_platform_and_base() -> None:
    result = dry("build", "processor-gpu,monitor-jetson5,processor-jetson6", TAG="t")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        f"{BUILD} --target processor --platform linux/amd64 --build-arg VARIANT=gpu"
        " --tag docker.io/dayuhub/processor-gpu:t --push .",
        f"{BUILD} --target monitor --platform linux/arm64 --build-arg VARIANT=jetson"
        " --build-arg L4T_IMAGE=nvcr.io/nvidia/l4t-jetpack:r35.4.1 --tag docker.io/dayuhub/monitor-jetson5:t --push .",
        f"{BUILD} --target processor --platform linux/arm64 --build-arg VARIANT=jetson"
        " --build-arg L4T_IMAGE=nvcr.io/nvidia/l4t-jetpack:r36.4.0"
        " --tag docker.io/dayuhub/processor-jetson6:t --push .",
    ]


def test_make_all_builds_every_listed_image_once() -> None:
    result = run(["make", "-s", "all", "DRY_RUN=1"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ENSURE
    tags = [line.split("--tag ")[1].split()[0] for line in lines[1:]]
    assert tags == [f"docker.io/dayuhub/{name}:{project_version()}" for name in load_images()]


def test_duplicates_and_spaces_in_what_are_tolerated() -> None:
    result = dry("build", "generator, generator ,monitor", TAG="t")
    assert result.returncode == 0, result.stderr
    assert [line.split("--target ")[1].split()[0] for line in result.stdout.splitlines()[1:]] == [
        "generator",
        "monitor",
    ]


def test_unknown_name_fails_with_the_valid_names_and_prints_no_command() -> None:
    result = run(["make", "-s", "build", "WHAT=generator,gpu-processor", "DRY_RUN=1"])
    assert result.returncode != 0
    assert result.stdout == ""
    assert "unknown image name(s): gpu-processor" in result.stderr
    for name in load_images():
        assert name in result.stderr


def test_empty_what_fails_with_the_valid_names() -> None:
    result = run(["make", "-s", "build", "DRY_RUN=1"])
    assert result.returncode != 0
    assert "WHAT is empty" in result.stderr and "processor-jetson6" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"TAG": "bad tag"}, "TAG 'bad tag' is not a valid image tag"),
        ({"REPO": "Dayu"}, "REPO 'Dayu' is not a valid repository"),
        ({"OUTPUT": "save"}, "OUTPUT must be push or load"),
        ({"REG": "https://r"}, "is not a registry host"),
    ],
)
def test_bad_settings_fail_before_any_command(env: dict[str, str], problem: str) -> None:
    result = dry("build", "generator", **env)
    assert result.returncode != 0
    assert problem in result.stderr
    assert result.stdout == ""


def test_load_builds_one_platform_and_platforms_narrows() -> None:
    host = "linux/arm64" if os.uname().machine in ("aarch64", "arm64") else "linux/amd64"
    loaded = dry("build", "generator,processor-jetson5", OUTPUT="load", TAG="t")
    assert loaded.returncode == 0, loaded.stderr
    lines = loaded.stdout.splitlines()
    assert lines[1] == cpu_build("generator", "docker.io/dayuhub/generator:t", "--load", host)
    assert "--platform linux/arm64 " in lines[2] and lines[2].endswith("--load .")

    narrowed = dry("all", PLATFORMS="linux/arm64", TAG="t")
    assert narrowed.returncode == 0, narrowed.stderr
    assert "skipping processor-gpu" in narrowed.stderr and "skipping monitor-gpu" in narrowed.stderr
    assert all("--platform linux/arm64 " in line for line in narrowed.stdout.splitlines()[1:])
    assert "processor-gpu" not in narrowed.stdout

    refused = dry("build", "processor-gpu", PLATFORMS="linux/arm64")
    assert refused.returncode != 0 and "not for PLATFORMS=linux/arm64" in refused.stderr


def test_resource_files_become_builder_options(tmp_path: Path) -> None:
    """The shipped defaults add nothing; filled-in files add --config and one --driver-opt per line."""
    default = dry("build", "generator")
    assert default.stdout.splitlines()[0] == ENSURE

    buildkitd = tmp_path / "buildkitd.toml"
    buildkitd.write_text('# comment\n[registry."192.168.1.10:5000"]\n  http = true\n  insecure = true\n')
    opts = tmp_path / "driver_opts.toml"
    opts.write_text(
        '# proxies\n"env.http_proxy" = "http://proxy:3128"\n\nnetwork = "host"  # why\n'
        '"env.no_proxy" = "localhost,127.0.0.1"\n'
    )
    result = dry("build", "generator", BUILDKITD_CONFIG=str(buildkitd), DRIVER_OPTS_FILE=str(opts))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"docker buildx inspect dayu-buildx >/dev/null 2>&1 || {CREATE} --config {buildkitd}"
        " --driver-opt env.http_proxy=http://proxy:3128 --driver-opt network=host"
        """ --driver-opt '"env.no_proxy=localhost,127.0.0.1"'"""
    )

    opts.write_text("network host\n")
    broken = dry("build", "generator", DRIVER_OPTS_FILE=str(opts))
    assert broken.returncode != 0 and "cannot read line 'network host'" in broken.stderr


def test_shipped_templates_parse_once_uncommented(tmp_path: Path) -> None:
    """Every commented example line of driver_opts_template.toml is a line build.sh accepts."""
    template = (ROOT / "hack/resource/driver_opts_template.toml").read_text().splitlines()
    examples = [line[2:] for line in template if re.match(r'^# "?[A-Za-z0-9_.-]+"? = "', line)]
    assert examples, "the template shows no example"
    opts = tmp_path / "driver_opts.toml"
    opts.write_text("\n".join(examples) + "\n")
    result = dry("build", "generator", DRIVER_OPTS_FILE=str(opts))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].count("--driver-opt") == len(examples)


def fake_docker(tmp_path: Path, builder_exists: bool, buildx: bool = True) -> tuple[dict[str, str], Path]:
    log = tmp_path / "docker.log"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        f'if [ "$1 $2" = "buildx version" ]; then exit {0 if buildx else 1}; fi\n'
        f'if [ "$1 $2" = "buildx inspect" ]; then exit {0 if builder_exists else 1}; fi\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{script.parent}:{os.environ['PATH']}"}, log


def test_real_run_creates_the_missing_builder_then_builds(tmp_path: Path) -> None:
    env, log = fake_docker(tmp_path, builder_exists=False)
    result = run(["bash", "hack/build.sh", "build", "generator,processor-gpu"], env, TAG="t")
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls == [
        "buildx version",
        "buildx inspect dayu-buildx",
        CREATE.removeprefix("docker "),
        cpu_build("generator", "docker.io/dayuhub/generator:t").removeprefix("docker "),
        f"{BUILD} --target processor --platform linux/amd64 --build-arg VARIANT=gpu"
        " --tag docker.io/dayuhub/processor-gpu:t --push .".removeprefix("docker "),
    ]


def test_real_run_reuses_an_existing_builder(tmp_path: Path) -> None:
    env, log = fake_docker(tmp_path, builder_exists=True)
    result = run(["bash", "hack/build.sh", "build", "monitor"], env, TAG="t")
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert not any(c.startswith("buildx create") for c in calls)
    assert calls[-1] == cpu_build("monitor", "docker.io/dayuhub/monitor:t").removeprefix("docker ")


def test_real_run_without_buildx_says_so(tmp_path: Path) -> None:
    env, log = fake_docker(tmp_path, builder_exists=True, buildx=False)
    result = run(["bash", "hack/build.sh", "build", "monitor"], env)
    assert result.returncode != 0
    assert "docker buildx is not available" in result.stderr
    assert log.read_text().splitlines() == ["buildx version"]


def test_list_prints_every_image() -> None:
    result = run(["bash", "hack/build.sh", "list"])
    assert result.returncode == 0
    assert result.stdout.split() == list(load_images())
