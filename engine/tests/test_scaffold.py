"""A scaffolded module's files parse (Python, CSV, XML) and hold together; hostile names are
refused.  (That it installs and its test passes on a real Odoo is the Odoo tests' part.)"""

import ast
import csv
import io
import xml.etree.ElementTree as ET

import pytest

from engine import scaffold


def test_files_parse_and_hold_together():
    files = scaffold.module_files("x_library", 'Library & "books"', "x_library.book")
    manifest = ast.literal_eval(files["__manifest__.py"])
    assert manifest["version"] == "18.0.1.0.0"
    assert manifest["depends"] == ["base"]
    for path in manifest["data"]:
        assert path in files
    for path, text in files.items():
        if path.endswith(".py"):
            ast.parse(text)
        elif path.endswith(".xml"):
            ET.fromstring(text.encode())  # noqa: S314 - our own generated text
    rows = list(csv.DictReader(io.StringIO(files["security/ir.model.access.csv"])))
    assert rows[0]["model_id:id"] == "model_x_library_book"
    model = ast.parse(files["models/x_library_book.py"])
    names = [node.targets[0].id for node in ast.walk(model) if isinstance(node, ast.Assign)]
    assert "_name" in names and "name" in names
    views = ET.fromstring(files["views/x_library_book_views.xml"].encode())  # noqa: S314
    assert views.find("menuitem").get("name") == 'Library & "books"'
    assert "x_library_book" in files["models/__init__.py"]
    assert "test_x_library_book" in files["tests/__init__.py"]


def test_default_model_and_depends():
    files = scaffold.module_files("shop_extra", "Shop extra", depends=["base", "web"])
    assert "models/shop_extra_record.py" in files
    assert ast.literal_eval(files["__manifest__.py"])["depends"] == ["base", "web"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "Bad"},
        {"name": "1x"},
        {"name": "x-y"},
        {"name": "class"},
        {"name": "a" * 64},
        {"name": None},
        {"name": "../x"},
        {"model": "nodot"},
        {"model": "x.Y"},
        {"model": "x..y"},
        {"title": ""},
        {"title": "a\nb"},
        {"license_": "MIT; rm -rf /"},
        {"depends": ["base", "-x"]},
        {"depends": "base"},
    ],
)
def test_hostile_values_are_refused(kwargs):
    values = {"name": "x_ok", "title": "Ok", **kwargs}
    with pytest.raises(scaffold.ScaffoldInputError):
        scaffold.module_files(**values)
