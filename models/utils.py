"""Small helpers shared by the models."""


def count_by(records, comodel, field):
    """{record id: number of ``comodel`` records whose ``field`` points to it}."""
    groups = records.env[comodel]._read_group([(field, "in", records.ids)], [field], ["__count"])
    return {record.id: count for record, count in groups}
