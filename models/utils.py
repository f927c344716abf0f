"""Small helpers shared by the models."""


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
