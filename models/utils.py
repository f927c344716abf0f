"""Small helpers shared by the models."""

from odoo.exceptions import UserError

from ..engine.validation import CONTROL


def count_by(records, comodel, field):
    """{record id: number of ``comodel`` records whose ``field`` points to it}."""
    groups = records.env[comodel]._read_group([(field, "in", records.ids)], [field], ["__count"])
    return {record.id: count for record, count in groups}


def open_action(env, xmlid, domain, context=None):
    """The window action ``xmlid``, narrowed to ``domain``."""
    action = env["ir.actions.act_window"]._for_xml_id(xmlid)
    action["domain"] = domain
    if context is not None:
        action["context"] = context
    return action


def stay(message, kind="info"):
    """The user stays where they are: a short notice, then the page reloads (and shows the
    rest)."""
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {
            "message": message,
            "type": kind,
            "sticky": False,
            "next": {"type": "ir.actions.client", "tag": "soft_reload"},
        },
    }


def form_action(record, name=None, target="new"):
    """Open ``record`` in its form: a wizard reopened in its dialog, or a record."""
    action = {
        "type": "ir.actions.act_window",
        "res_model": record._name,
        "res_id": record.id,
        "view_mode": "form",
        "views": [(False, "form")],
        "target": target,
    }
    if name:
        action["name"] = name
    return action


# --- Arguments of public methods (RPC endpoints): types and ranges -------------------------


def arg_int(env, name, value, minimum, maximum, default=None):
    """``value`` as an int within [minimum, maximum]; None/False gives ``default``."""
    if value is None or value is False:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(
            env._("%(name)s must be a whole number, not %(value)r.", name=name, value=value)
        )
    if not minimum <= value <= maximum:
        raise UserError(
            env._(
                "%(name)s must be from %(min)s to %(max)s, not %(value)s.",
                name=name,
                min=minimum,
                max=maximum,
                value=value,
            )
        )
    return value


def arg_text(env, name, value, max_length=4096, single_line=True):
    """``value`` as a string (None/False/"" give None): no NUL, no control character when
    ``single_line``, at most ``max_length`` characters."""
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str):
        raise UserError(env._("%(name)s must be text, not %(value)r.", name=name, value=value))
    if "\x00" in value:
        raise UserError(env._("%(name)s contains a NUL character.", name=name))
    if single_line and CONTROL.search(value):
        raise UserError(
            env._("%(name)s contains a control character (such as a newline).", name=name)
        )
    if len(value) > max_length:
        raise UserError(
            env._("%(name)s is longer than %(max)s characters.", name=name, max=max_length)
        )
    return value
