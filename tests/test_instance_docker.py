import os
import shutil

from odoo.tests import tagged

from odoo.addons.erplibre_devops.engine import probe, service
from odoo.addons.erplibre_devops.engine.testing import build_test_image

from .common import RunnerCase
from .test_instance import InstanceMixin


@tagged("post_install", "-at_install")
class TestInstanceDocker(InstanceMixin, RunnerCase):
    """A container instance of an image built here FROM scratch (no registry is reachable)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.image = build_test_image(cls.tmp)  # fails (never skips) without a Docker engine
        cls.workspace = cls.make_workspace(path=cls.tmp)

    def test_container_lifecycle(self):
        instance = self.make_instance(
            self.workspace, kind="docker", image=self.image, container_port=8080
        )
        self.addCleanup(
            lambda: os.system(f"docker rm -f {service.container_name(instance.id)} >/dev/null 2>&1")  # noqa: S605
        )
        instance.action_start()
        start = instance.action_exec_id
        self.operate_until(instance, "running")
        self.assertEqual(start.state, "done", start.output)
        self.assertEqual(start.argv.count("--publish"), 1)
        self.env["devops.instance"]._cron_monitor()
        sample = instance.check_ids[:1]
        self.assertEqual(sample.state, "up")
        self.assertGreater(sample.memory_mb, 0)  # docker stats through the SDK
        self.assertNotIn("cannot be read", instance.log_tail(20))  # read at once
        instance.action_stop()
        self.run_all()
        self.assertEqual(probe.local_container(service.container_name(instance.id))[0], False)
        self.assertIsNotNone(shutil.which("docker"))
