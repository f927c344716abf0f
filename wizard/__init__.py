from . import devops_exec_wizard
from . import devops_code_wizard
