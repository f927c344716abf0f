"""Field values checked before the ORM sees them.

Over RPC anyone can send any JSON value for any field.  Left to the ORM, a NUL character
("A string literal cannot contain NUL"), a port of "22; …" or 99999999999 (out of
PostgreSQL's integer range) or a wrong type end as a traceback.  Every model of the addon
inherits this mixin: its create and write refuse such values with a message that names the
field.
"""

import datetime

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
TEXT_TYPES = ("char", "text", "html", "selection")
# Longest values: a Char in a unique index must stay under PostgreSQL's btree row limit
# (2 704 bytes); a Text holds scripts and messages.
CHAR_MAX_BYTES = 2000
TEXT_MAX_CHARS = 1_000_000


def _check_domain_text(env, domain):
    """A NUL character in a domain value would end in a database error: refuse it."""
    stack = [domain]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise UserError(env._("A search value contains a NUL character."))
        elif isinstance(item, list | tuple):
            stack.extend(item)


class DevopsInputMixin(models.AbstractModel):
    _name = "devops.input.mixin"
    _description = "DevOps checked input"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_input(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_input(vals)
        return super().write(vals)

    _devops_unique_name = False  # a copy's name then says it is one: "X (copy)"

    def copy_data(self, default=None):
        vals_list = super().copy_data(default)
        if self._devops_unique_name and "name" not in (default or {}):
            for record, vals in zip(self, vals_list, strict=True):
                if record.name:
                    vals["name"] = self.env._("%(name)s (copy)", name=record.name)
        return vals_list

    @api.model
    def devops_last_change(self, ids=None):
        """When the records the user may read (those of ``ids``, else all) last changed: what
        the screens poll to reload only when something changed.  A text, or False."""
        self.check_access("read")
        domain = []
        if ids is not None:
            if not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids
            ):
                raise UserError(self.env._("The ids are a list of whole numbers."))
            domain = [("id", "in", ids[:1000])]
        ((last,),) = self._read_group(domain, [], ["write_date:max"])
        return fields.Datetime.to_string(last) if last else False

    def _model_label(self):
        return self.env["ir.model"].sudo()._get(self._name).name or self._description

    def _check_ids(self):
        """Record ids given over RPC are integers (not lists, texts or objects)."""
        for record_id in self._ids:
            if isinstance(record_id, bool) or not isinstance(record_id, int):
                raise UserError(
                    self.env._(
                        "%(model)s: record ids are whole numbers, not %(value)r.",
                        model=self._model_label(),
                        value=record_id,
                    )
                )

    def _ensure_one_existing(self):
        """One record that exists and that the user may read, else a message that says which
        is missing.  Public methods (RPC endpoints) start with it."""
        self._check_ids()
        if len(self) != 1:
            raise UserError(
                self.env._(
                    "Call this on one %(model)s record, not %(count)s.",
                    model=self._model_label(),
                    count=len(self),
                )
            )
        if not self.exists():
            raise UserError(
                self.env._(
                    "The %(model)s with id %(id)s does not exist (deleted, or never created).",
                    model=self._model_label(),
                    id=self.id,
                )
            )
        self.check_access("read")

    # --- Searches and groupings over RPC: bad domains get a message ---------------------

    @api.model
    def _search(self, domain, *args, **kwargs):
        _check_domain_text(self.env, domain)
        try:
            return super()._search(domain, *args, **kwargs)
        except ValueError as error:  # "Invalid leaf", an unknown field or operator
            raise UserError(
                self.env._("This search cannot be done: %(error)s", error=error)
            ) from error

    @api.model
    def _read_group(self, domain, *args, **kwargs):
        _check_domain_text(self.env, domain)
        try:
            return super()._read_group(domain, *args, **kwargs)
        except ValueError as error:  # e.g. grouping by a field that is not stored
            raise UserError(
                self.env._("This grouping cannot be done: %(error)s", error=error)
            ) from error

    @api.model
    def _check_input(self, vals):
        if not isinstance(vals, dict):
            raise ValidationError(self.env._("The values must be a dictionary of field names."))
        for name, value in vals.items():
            field = self._fields.get(name) if isinstance(name, str) else None
            if field is None:
                raise ValidationError(
                    self.env._("%(model)s has no field %(field)r.", model=self._name, field=name)
                )
            if field.required and field.store and (value is None or value is False or value == ""):
                raise ValidationError(
                    self.env._(
                        "%(field)s is empty: it is required.",
                        field=field._description_string(self.env),
                    )
                )
            problem = self._input_problem(field, value)
            if problem:
                label = field._description_string(self.env)
                raise ValidationError(
                    self.env._("%(field)s: %(problem)s", field=label, problem=problem)
                )

    @api.model
    def _input_problem(self, field, value):
        """What is wrong with ``value`` for ``field``, or None."""
        if value is None or value is False:
            return None
        kind = field.type
        if kind in TEXT_TYPES:
            if not isinstance(value, str):
                return self.env._("text is expected, not %(type)s.", type=type(value).__name__)
            if "\x00" in value:
                return self.env._("it contains a NUL character.")
            if kind == "char" and len(value.encode("utf-8", "surrogatepass")) > CHAR_MAX_BYTES:
                return self.env._("it is too long (at most %(max)s bytes).", max=CHAR_MAX_BYTES)
            if kind != "char" and len(value) > TEXT_MAX_CHARS:
                return self.env._(
                    "it is too long (at most %(max)s characters).", max=TEXT_MAX_CHARS
                )
            if kind == "selection":
                allowed = [key for key, _label in field._description_selection(self.env)]
                if value not in allowed:
                    return self.env._(
                        "%(value)r is not one of %(allowed)s.", value=value, allowed=allowed
                    )
        elif kind in ("integer", "many2one", "many2one_reference"):
            if kind == "many2one" and isinstance(value, models.BaseModel):
                return None
            if isinstance(value, bool) or not isinstance(value, int):
                return self.env._("a whole number is expected, not %(value)r.", value=value)
            if not INT_MIN <= value <= INT_MAX:
                return self.env._("%(value)s is out of range.", value=value)
            if (
                kind == "many2one"
                and not self.env[field.comodel_name].sudo().browse(value).exists()
            ):
                return self.env._(
                    "there is no %(model)s with id %(id)s.",
                    model=self.env[field.comodel_name]._description,
                    id=value,
                )
        elif kind in ("float", "monetary"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return self.env._("a number is expected, not %(value)r.", value=value)
            if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
                return self.env._("a finite number is expected.")
        elif kind == "boolean":
            if not isinstance(value, bool | int):
                return self.env._("true or false is expected, not %(value)r.", value=value)
        elif kind in ("datetime", "date"):
            return self._date_problem(field, value)
        elif kind in ("one2many", "many2many"):
            if not isinstance(value, list | tuple) or not all(
                _is_command(command, kind) for command in value
            ):
                return self.env._("a list of commands is expected, not %(value)r.", value=value)
        return None

    @api.model
    def _date_problem(self, field, value):
        if isinstance(value, datetime.date):
            return None
        if not isinstance(value, str) or not value.strip():
            return self.env._("a date is expected, not %(value)r.", value=value)
        try:
            if field.type == "datetime":
                fields.Datetime.to_datetime(value)
            else:
                fields.Date.to_date(value)
        except ValueError:
            return self.env._("%(value)r is not a date.", value=value)
        return None


def _is_command(command, kind):
    """An x2many command (Command.create, update, …), or an id for a many2many.

    The web client creates lines with ``[0, "virtual_12", {values}]``: the second item of a
    create is a client-side reference, not an id."""
    if kind == "many2many" and isinstance(command, int) and not isinstance(command, bool):
        return True
    if not isinstance(command, list | tuple) or not command:
        return False
    code = command[0]
    if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 6:
        return False
    if code in (0, 1) and (len(command) != 3 or not isinstance(command[2], dict)):
        return False
    if code == 6 and (len(command) != 3 or not isinstance(command[2], list | tuple)):
        return False
    if code in (1, 2, 3, 4):  # these name an existing record
        return (
            len(command) >= 2 and isinstance(command[1], int) and not isinstance(command[1], bool)
        )
    return True
