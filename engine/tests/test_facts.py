import os

from engine import facts, ssh
from engine.local import LocalExecutor


def test_parse_facts():
    parsed = facts.parse_facts(
        "os=Debian GNU/Linux 12 (bookworm)\nkernel=Linux 6.1.0\ncpus=2\nmem_kb=2048000\n"
        "disk_free_kb=1048576\ngit=git version 2.39.5\ndocker=Docker version 28.2.2, build x\n"
    )
    assert parsed == {
        "os": "Debian GNU/Linux 12 (bookworm)",
        "kernel": "Linux 6.1.0",
        "cpus": 2,
        "memory_mb": 2000,
        "disk_free_mb": 1024,
        "git_version": "2.39.5",
        "docker_version": "28.2.2",
    }
    assert facts.parse_facts("cpus=\ngit=\n")["cpus"] == 0


def test_local_facts():
    found = facts.gather(LocalExecutor())
    assert found["cpus"] == os.cpu_count()
    assert found["memory_mb"] > 100
    assert found["kernel"].startswith("Linux")
    assert found["git_version"][0].isdigit()


def test_ssh_facts_match_local(target):
    local = facts.gather(LocalExecutor())
    remote = facts.gather(ssh.SSHExecutor(target))
    for key in ("os", "kernel", "cpus", "memory_mb", "git_version"):
        assert remote[key] == local[key]
