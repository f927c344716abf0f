from . import test_stages
from . import test_menus
from . import test_access
from . import test_validation
from . import test_i18n
from . import test_ui
