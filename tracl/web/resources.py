"""Where the installed templates and static files are.

An installed distribution carries them inside the package (`tracl/templates`,
`tracl/htdocs`, see setup.py); a source checkout keeps them at the top of the
repository. Both are looked up, installed first.
"""

import os

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resource_dir(name):
    """The directory of resource folder `name` ('templates' or 'htdocs')."""
    installed = os.path.join(_PACKAGE_DIR, name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE_DIR), name)
