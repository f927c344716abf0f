"""18.0.1.3.0: uptime comes from state intervals; each instance starts with its current one."""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        INSERT INTO devops_instance_interval (instance_id, state, date_start)
        SELECT i.id, i.state, COALESCE(i.state_date, i.write_date, now() at time zone 'UTC')
          FROM devops_instance i
         WHERE NOT EXISTS (
               SELECT 1 FROM devops_instance_interval v WHERE v.instance_id = i.id)
        """
    )
    # Runs get titles: the older ones, the first line of their command.
    cr.execute(
        """
        UPDATE devops_exec
           SET name = left(split_part(btrim(command, E' \\n'), E'\\n', 1), 120)
         WHERE name IS NULL
        """
    )
