from . import devops_stage
from . import devops_machine
from . import devops_workspace
from . import devops_instance
from . import res_config_settings
