from . import devops_stage
from . import devops_machine
from . import devops_machine_secret
from . import devops_workspace
from . import devops_instance
from . import devops_exec
from . import devops_exec_error
from . import res_config_settings
