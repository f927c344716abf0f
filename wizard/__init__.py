from . import devops_exec_wizard
