from . import devops_exec_wizard
from . import devops_code_wizard
from . import devops_debug_wizard
from . import devops_update_wizard
from . import devops_pipeline_launch_wizard
from . import devops_instance_log_wizard
from . import devops_machine_host_key_wizard
