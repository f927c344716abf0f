from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

LOG_LINES = 100
MANAGER = "erplibre_devops.group_devops_manager"
USER = "erplibre_devops.group_devops_user"


class DevopsIncident(models.Model):
    """A time an instance was down: opened by the operate cron, closed when it is back.

    It keeps the end of the instance's log as it was when the incident opened, and can be
    acknowledged, assigned and annotated; its timeline lists the runs of the instance in
    its time (the automatic restarts first) and its state changes."""

    _name = "devops.incident"
    _inherit = ["devops.input.mixin"]
    _description = "DevOps Incident"
    _order = "date_start desc, id desc"
    _rec_name = "cause"

    instance_id = fields.Many2one(
        "devops.instance", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="instance_id.machine_id", store=True)
    date_start = fields.Datetime(
        string="Start", required=True, default=fields.Datetime.now, readonly=True
    )
    date_end = fields.Datetime(string="End", readonly=True, index=True)
    duration = fields.Float(
        string="Duration (min)", compute="_compute_duration", store=True, aggregator="sum"
    )
    cause = fields.Text(required=True, readonly=True)
    restart_count = fields.Integer(string="Restarts tried", readonly=True)
    note = fields.Text(help="What was done about it.")
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")], compute="_compute_state", store=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Assigned to",
        domain=lambda self: [
            ("groups_id", "in", self.env.ref("erplibre_devops.group_devops_user").id)
        ],
    )
    acknowledged_by = fields.Many2one("res.users", readonly=True)
    date_acknowledged = fields.Datetime(string="Acknowledged on", readonly=True)
    log_excerpt = fields.Text(
        string="Log at the failure",
        readonly=True,
        help=f"The last {LOG_LINES} lines of the instance's log when the incident opened.",
    )
    exec_ids = fields.Many2many(
        "devops.exec",
        string="Runs in its time",
        compute="_compute_timeline",
        help="The runs of the instance that started between the incident's start and its end "
        "(or wait to start).",
    )
    interval_ids = fields.Many2many(
        "devops.instance.interval",
        string="State changes",
        compute="_compute_timeline",
    )

    @api.depends("instance_id.name", "cause")
    def _compute_display_name(self):
        for incident in self:
            incident.display_name = " — ".join(
                part for part in (incident.instance_id.name, incident.cause) if part
            )

    @api.depends("date_start", "date_end")
    def _compute_duration(self):
        for incident in self:
            end = incident.date_end or incident.date_start
            incident.duration = (end - incident.date_start).total_seconds() / 60

    @api.depends("date_end")
    def _compute_state(self):
        for incident in self:
            incident.state = "closed" if incident.date_end else "open"

    def _compute_timeline(self):
        now = fields.Datetime.now()
        for incident in self:
            end = incident.date_end or now
            # by when they started (the runner's clock, as the incident's), or still queued
            incident.exec_ids = self.env["devops.exec"].search(
                [
                    ("instance_id", "=", incident.instance_id.id),
                    "|",
                    "&",
                    ("date_start", ">=", incident.date_start),
                    ("date_start", "<=", end),
                    "&",
                    ("date_start", "=", False),
                    ("state", "=", "queued"),
                ],
                order="id",
            )
            incident.interval_ids = self.env["devops.instance.interval"].search(
                [
                    ("instance_id", "=", incident.instance_id.id),
                    ("date_start", "<=", end),
                    "|",
                    ("date_end", "=", False),
                    ("date_end", ">=", incident.date_start),
                ],
                order="date_start, id",
            )

    def write(self, vals):
        """DevOps users annotate and assign incidents; the rest of the record is history."""
        free = {"note", "user_id"}
        if not self.env.su and not self.env.user.has_group(MANAGER) and set(vals) - free:
            raise AccessError(
                self.env._("You may change the note and the assignee of an incident only.")
            )
        if vals.get("user_id"):
            assignee = self.env["res.users"].sudo().browse(vals["user_id"]).exists()
            if not (assignee and assignee.active and assignee._has_group(USER)):
                raise ValidationError(
                    self.env._("An incident is assigned to an active DevOps user only.")
                )
        return super().write(vals)

    @api.model_create_multi
    def create(self, vals_list):
        incidents = super().create(vals_list)
        self.env["devops.change"]._refresh_instances(incidents.instance_id)
        return incidents

    def _close(self, note):
        for incident in self.sudo():
            text = f"{incident.note}\n{note}" if incident.note else note
            incident.write({"date_end": fields.Datetime.now(), "note": text})
        self.env["devops.change"]._refresh_instances(self.instance_id)

    def action_acknowledge(self):
        """Say you are on it (and take it when nobody is assigned)."""
        self._ensure_one_existing()
        if self.acknowledged_by:  # the first one stays: who answered, and when
            raise UserError(
                self.env._(
                    "%(user)s acknowledged this incident already.",
                    user=self.acknowledged_by.name,
                )
            )
        if self.date_end:
            raise UserError(self.env._("This incident is over: there is nothing to acknowledge."))
        values = {"acknowledged_by": self.env.user.id, "date_acknowledged": fields.Datetime.now()}
        if not self.user_id:
            values["user_id"] = self.env.user.id
        self.sudo().write(values)
