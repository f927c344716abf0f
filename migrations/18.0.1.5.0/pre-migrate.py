"""18.0.1.5.0: an instance's *production* box became its environment."""


def migrate(cr, version):
    cr.execute("ALTER TABLE devops_instance ADD COLUMN IF NOT EXISTS environment varchar")
    cr.execute(
        "UPDATE devops_instance SET environment = "
        "CASE WHEN production THEN 'production' ELSE 'development' END "
        "WHERE environment IS NULL"
    )
