"""A new Odoo 18 module, as files: manifest (name, version 18.0.1.0.0, license, depends,
data files), a model with its access rows, its list and form views with an action and a
menu, and a test.  ``module_files`` returns {relative path: text}; writing them (locally or
over SSH) and committing them is the caller's.
"""

import keyword
import re

MODULE = re.compile(r"[a-z][a-z0-9_]{1,62}")
MODEL = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
LICENSES = ("LGPL-3", "AGPL-3", "GPL-3", "OPL-1", "OEEL-1", "Other proprietary")


class ScaffoldInputError(ValueError):
    """A value that cannot go into a new module."""


def _check(name, model, title, license_, depends):
    if not isinstance(name, str) or not MODULE.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldInputError(
            f"{name!r} is not a module name: lowercase letters, digits and '_', 2 to 63, "
            "starting with a letter."
        )
    if not isinstance(model, str) or not MODEL.fullmatch(model) or len(model) > 60:
        raise ScaffoldInputError(f"{model!r} is not a model name, such as x_library.book.")
    if not isinstance(title, str) or not title.strip() or len(title) > 100 or "\n" in title:
        raise ScaffoldInputError("The module's name is one line of at most 100 characters.")
    if license_ not in LICENSES:
        raise ScaffoldInputError(f"{license_!r} is not a license: {', '.join(LICENSES)}.")
    if not isinstance(depends, list | tuple) or not all(
        isinstance(d, str) and MODULE.fullmatch(d) for d in depends
    ):
        raise ScaffoldInputError("The dependencies are module names.")


def module_files(name, title, model=None, license_="LGPL-3", depends=("base",)):
    """{path: text} of a new module ``name`` ("Title") with one model ``model``
    (default: ``<name>.record``)."""
    model = model or f"{name}.record"
    depends = list(depends) or ["base"]
    _check(name, model, title, license_, depends)
    table = model.replace(".", "_")
    klass = "".join(part.capitalize() for part in re.split(r"[._]", model))
    label = title.strip()
    manifest = {
        "name": label,
        "version": "18.0.1.0.0",
        "license": license_,
        "depends": depends,
        "data": ["security/ir.model.access.csv", f"views/{table}_views.xml"],
        "installable": True,
    }
    xml_label = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    xml_label = xml_label.replace('"', "&quot;")
    return {
        "__init__.py": "from . import models\n",
        "__manifest__.py": _pretty(manifest),
        "models/__init__.py": f"from . import {table}\n",
        f"models/{table}.py": (
            "from odoo import fields, models\n\n\n"
            f"class {klass}(models.Model):\n"
            f"    _name = {model!r}\n"
            f"    _description = {label!r}\n\n"
            "    name = fields.Char(required=True)\n"
            "    active = fields.Boolean(default=True)\n"
            "    note = fields.Text()\n"
        ),
        "security/ir.model.access.csv": (
            "id,name,model_id:id,group_id:id,perm_read,perm_write,perm_create,perm_unlink\n"
            f"access_{table}_user,{model} user,model_{table},base.group_user,1,1,1,1\n"
        ),
        f"views/{table}_views.xml": _VIEWS.format(
            table=table, model=model, label=xml_label, module=name
        ),
        "tests/__init__.py": f"from . import test_{table}\n",
        f"tests/test_{table}.py": (
            "from odoo.tests import TransactionCase\n\n\n"
            f"class Test{klass}(TransactionCase):\n"
            "    def test_create_and_archive(self):\n"
            f'        record = self.env[{model!r}].create({{"name": "First"}})\n'
            "        self.assertTrue(record.active)\n"
            "        record.active = False\n"
            f'        self.assertFalse(self.env[{model!r}].search([("name", "=", "First")]))\n'
        ),
    }


def _pretty(manifest):
    lines = ["{"]
    for key, value in manifest.items():
        lines.append(f"    {key!r}: {value!r},")
    return "\n".join(lines) + "\n}\n"


_VIEWS = """<?xml version="1.0" encoding="utf-8" ?>
<odoo>
    <record id="{table}_view_list" model="ir.ui.view">
        <field name="name">{model}.list</field>
        <field name="model">{model}</field>
        <field name="arch" type="xml">
            <list>
                <field name="name" />
            </list>
        </field>
    </record>
    <record id="{table}_view_form" model="ir.ui.view">
        <field name="name">{model}.form</field>
        <field name="model">{model}</field>
        <field name="arch" type="xml">
            <form>
                <sheet>
                    <group>
                        <field name="name" />
                        <field name="active" />
                        <field name="note" />
                    </group>
                </sheet>
            </form>
        </field>
    </record>
    <record id="{table}_action" model="ir.actions.act_window">
        <field name="name">{label}</field>
        <field name="res_model">{model}</field>
        <field name="view_mode">list,form</field>
    </record>
    <menuitem id="{table}_menu" name="{label}" action="{table}_action" />
</odoo>
"""
