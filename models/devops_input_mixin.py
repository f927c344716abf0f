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

    def _ensure_one_existing(self):
        """One record that exists, else a message that says which is missing."""
        label = self.env["ir.model"].sudo()._get(self._name).name or self._description
        if len(self) != 1:
            raise UserError(self.env._("Call this on one %(model)s record.", model=label))
        if not self.exists():
            raise UserError(
                self.env._(
                    "The %(model)s with id %(id)s does not exist (deleted, or never created).",
                    model=label,
                    id=self.id,
                )
            )

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
            if not isinstance(value, list | tuple):
                return self.env._("a list of commands is expected, not %(value)r.", value=value)
        return None

    @api.model
    def _date_problem(self, field, value):
        if isinstance(value, datetime.date):
            return None
        if not isinstance(value, str):
            return self.env._("a date is expected, not %(value)r.", value=value)
        try:
            if field.type == "datetime":
                fields.Datetime.to_datetime(value)
            else:
                fields.Date.to_date(value)
        except ValueError:
            return self.env._("%(value)r is not a date.", value=value)
        return None
