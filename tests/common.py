from odoo.tests import TransactionCase, new_test_user

MODULE = "erplibre_devops"

STAGE_CODES = ["plan", "code", "build", "test", "release", "deploy", "operate", "monitor"]


def xmlid(name):
    return f"{MODULE}.{name}"


class DevopsCase(TransactionCase):
    """Users of each access level, and this machine's record."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.local_machine = cls.env.ref(xmlid("machine_local"))
        cls.plain_user = new_test_user(cls.env, login="devops_plain", groups="base.group_user")
        cls.devops_user = new_test_user(
            cls.env, login="devops_user", groups=f"base.group_user,{xmlid('group_devops_user')}"
        )
        cls.devops_manager = new_test_user(
            cls.env,
            login="devops_manager",
            groups=f"base.group_user,{xmlid('group_devops_manager')}",
        )

    @classmethod
    def make_workspace(cls, name="Workspace", path="/srv/erplibre", machine=None):
        return cls.env["devops.workspace"].create(
            {"name": name, "path": path, "machine_id": (machine or cls.local_machine).id}
        )
