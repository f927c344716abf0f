{
    "name": "ERPLibre DevOps",
    "summary": "Plan, code, build, test, release, deploy, operate and monitor Odoo "
    "instances on your own machines",
    "version": "18.0.1.0.0",
    "category": "Productivity/DevOps",
    "author": "ERPLibre DevOps contributors",
    "website": "https://github.com/ERPLibre/erplibre_devops",
    "license": "AGPL-3",
    "application": True,
    "depends": ["base", "web"],
    "external_dependencies": {
        "python": ["paramiko", "git", "docker", "psutil"],
    },
    "data": [
        "security/devops_security.xml",
        "security/ir.model.access.csv",
        "data/devops_stage_data.xml",
        "data/devops_machine_data.xml",
        "data/devops_cron_data.xml",
        "views/devops_stage_views.xml",
        "views/devops_machine_views.xml",
        "views/devops_workspace_views.xml",
        "views/devops_instance_views.xml",
        "views/devops_incident_views.xml",
        "views/devops_instance_check_views.xml",
        "views/devops_instance_backup_views.xml",
        "views/devops_exec_views.xml",
        "views/devops_exec_error_views.xml",
        "wizard/devops_exec_wizard_views.xml",
        "views/res_config_settings_views.xml",
        "views/devops_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "erplibre_devops/static/src/**/*",
        ],
    },
}
