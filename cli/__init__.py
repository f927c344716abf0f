from . import devops_rekey
